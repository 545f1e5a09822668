import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { runDemo } from "../../src/cli/demo.js";

describe("runDemo", () => {
  it("trains the tiny GPT-2 on one genre, reports lower validation loss and writes its report", async () => {
    const lines: string[] = [];
    const dir = mkdtempSync(join(tmpdir(), "lora-lab-demo-"));
    const reportPath = join(dir, "report.html");
    const result = await runDemo({ genre: "humor", steps: 30, batchSize: 8, lr: 1e-3, seed: 0, evalBatches: 2, progress: false, log: (l) => lines.push(l), reportPath });
    expect(result.backend).toBe("wasm");
    expect(result.validationAfter).toBeLessThan(result.validationBefore - 0.5);
    expect(lines.join("\n")).toMatch(/validation loss before: [\d.]+[\s\S]*validation loss after 30 steps: [\d.]+/);
    expect(lines.join("\n")).toMatch(/genre "humor"/);
    expect(result.events.filter((e) => e.type === "eval").length).toBeGreaterThanOrEqual(2);
    const html = readFileSync(reportPath, "utf8");
    expect(html).toContain(result.validationAfter.toFixed(3));
    expect(html).toContain("Gradient norm of each layer, step by step.");
    rmSync(dir, { recursive: true, force: true });
  });

  it("names the valid genres when given an unknown one", async () => {
    await expect(runDemo({ genre: "poetry", steps: 1, batchSize: 2, lr: 1e-3, seed: 0, evalBatches: 1, progress: false, log: () => {} })).rejects.toThrow(/poetry[\s\S]*news/);
  });
});
