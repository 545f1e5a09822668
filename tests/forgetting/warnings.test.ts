import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ready } from "../../src/engine/index.js";
import { strategies } from "../../src/forgetting/index.js";
import { gpt2 } from "../../src/models/index.js";
import { getPeftModel } from "../../src/peft/index.js";
import { tinyModel } from "./helpers.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

afterEach(() => vi.restoreAllMocks());

const fanInWarnings = (spy: ReturnType<typeof vi.spyOn>) => spy.mock.calls.filter((c) => String(c[0]).includes("fan_in_fan_out"));

// One file, one process: PEFT's warning fires at most once per process, so the library's own
// strategies run first, and a user's config that leaves fanInFanOut unset runs last to show the
// warning still reaches users.
describe("PEFT's fan_in_fan_out warning", () => {
  it("never fires for lora-lab's own LoRA strategies and layer plans on GPT-2", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    for (const strategy of [strategies.loraQV(), strategies.loraAllLinear(), strategies.articlePlan()]) {
      const prepared = strategy.prepare(gpt2("tiny")); // 4 layers: the article plan has all its groups
      expect(prepared.lowRankUpdates).toBe(true);
      prepared.model.dispose();
    }
    expect(fanInWarnings(warn)).toEqual([]);
  });

  it("fires once for a user's config that leaves fanInFanOut false on Conv1D layers", () => {
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    for (let i = 0; i < 2; i++) getPeftModel(tinyModel(i), { r: 2, targetModules: ["c_attn"] }).dispose();
    expect(fanInWarnings(warn)).toHaveLength(1);
  });
});
