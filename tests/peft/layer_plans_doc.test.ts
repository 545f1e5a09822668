/**
 * docs/layer-plans.md's LLaMA section: its snippet runs as written and prints the table the page
 * shows, whose LoRA rows are r (in + out) for q_proj and the grouped-query v_proj.
 */
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it, vi } from "vitest";
import * as lab from "../../src/index.js";

beforeAll(async () => {
  await lab.ready({ backend: "wasm" });
});

const page = readFileSync(new URL("../../docs/layer-plans.md", import.meta.url), "utf8");
const section = page.slice(page.indexOf("## The article's plan on a LLaMA-shaped model"));
const block = (lang: string) => new RegExp("```" + lang + "\\n([\\s\\S]*?)```").exec(section)?.[1] ?? "";

describe("docs/layer-plans.md, the article's plan on a LLaMA-shaped model", () => {
  it("the snippet prints the table the page shows", async () => {
    const code = block("ts");
    expect(code).toContain("lab.articlePlan(base)");
    const printed: string[] = [];
    const log = vi.spyOn(console, "log").mockImplementation((...a: unknown[]) => void printed.push(a.join(" ")));
    try {
      const AsyncFunction = Object.getPrototypeOf(async () => {}).constructor as new (
        ...args: string[]
      ) => (l: typeof lab) => Promise<void>;
      await new AsyncFunction("lab", code)(lab);
    } finally {
      log.mockRestore();
    }
    expect(printed.join("\n") + "\n").toBe(block("text"));
  });

  it("the page's LoRA rows are r (hidden + hidden) for q_proj plus r (hidden + kv width) for v_proj", () => {
    const c = lab.LlamaConfig.preset("tiny");
    const kv = c.numKeyValueHeads * c.headDim;
    const row = (r: number) => (r * (2 * c.hiddenSize) + r * (c.hiddenSize + kv)).toLocaleString("en-US");
    expect(block("text")).toMatch(new RegExp(`^2 .*\\| 8 .*\\| 16 .*\\|\\s+${row(8)}$`, "m"));
    expect(block("text")).toMatch(new RegExp(`^3 .*\\| 16 .*\\| 32 .*\\|\\s+${row(16)}$`, "m"));
  });
});
