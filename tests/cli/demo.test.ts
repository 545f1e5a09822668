import { describe, expect, it } from "vitest";
import { runDemo } from "../../src/cli/demo.js";

describe("runDemo", () => {
  it("trains the tiny GPT-2 on one genre and reports lower validation loss", async () => {
    const lines: string[] = [];
    const result = await runDemo({ genre: "humor", steps: 30, batchSize: 8, lr: 3e-3, seed: 0, evalBatches: 2, progress: false, log: (l) => lines.push(l) });
    expect(result.backend).toBe("wasm");
    expect(result.validationAfter).toBeLessThan(result.validationBefore - 0.5);
    expect(lines.join("\n")).toMatch(/validation loss before: [\d.]+[\s\S]*validation loss after 30 steps: [\d.]+/);
    expect(lines.join("\n")).toMatch(/genre "humor"/);
  });

  it("names the valid genres when given an unknown one", async () => {
    await expect(runDemo({ genre: "poetry", steps: 1, batchSize: 2, lr: 1e-3, seed: 0, evalBatches: 1, progress: false, log: () => {} })).rejects.toThrow(/poetry[\s\S]*news/);
  });
});
