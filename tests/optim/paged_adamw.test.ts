import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ready } from "../../src/engine/index.js";
import { GPT2Config, gpt2 } from "../../src/models/index.js";
import { AdamW, PAGE_TEMP_BYTES_PER_ELEMENT, PagedAdamW, type GradMap } from "../../src/optim/index.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

function tinyWithGrads() {
  const model = gpt2(GPT2Config.preset("tiny"));
  const params = model.namedParameters();
  const grads: GradMap = new Map([...params].map(([n, p], i) => [n, tf.randomNormal(p.shape, 0, 1e-2, "float32", i)]));
  const numel = [...params.values()].reduce((a, p) => a + p.size, 0);
  return { model, params, grads, numel };
}

describe("PagedAdamW keeps its states in JS memory and pages them per group within a budget", () => {
  it("stays under a 5 MB budget on the tiny GPT-2, where float AdamW keeps 6.7 MB of states on the backend", () => {
    const budget = 5_000_000;
    const { params, grads, numel } = tinyWithGrads();

    const float = new AdamW(params, { lr: 1e-3 });
    const floatBase = tf.memory().numBytes;
    float.step(grads);
    const floatResident = tf.memory().numBytes - floatBase;
    float.dispose();
    expect(floatResident).toBe(8 * numel);
    expect(floatResident).toBeGreaterThan(budget);

    for (const optimBits of [32, 8] as const) {
      const paged = new PagedAdamW(params, { lr: 1e-3, optimBits, budgetBytes: budget });
      const tensors = tf.memory().numTensors;
      const base = tf.memory().numBytes;
      for (let s = 0; s < 3; s++) paged.step(grads, { updateNorms: true });
      expect(tf.memory().numBytes).toBe(base); // nothing of the optimizer stays on the backend
      expect(tf.memory().numTensors).toBe(tensors);
      if (process.env.LORA_LAB_REPORT) {
        console.log(
          `paged ${optimBits}-bit, budget ${budget}: peak backend ${paged.stats.peakBytes} B over weights + grads (float AdamW: ${floatResident} resident), ` +
            `${paged.pages.length} pages for ${paged.groups.length} groups, ${paged.stats.pagesIn} pages in / ${paged.stats.pagesOut} out over 3 steps, ${paged.stats.bytesIn} B in, host states ${paged.hostStateBytes} B`,
        );
      }
      expect(paged.stats.peakBytes).toBeLessThanOrEqual(budget);
      expect(paged.stats.peakBytes).toBeGreaterThan(0);
      expect(paged.stats.pagesIn).toBe(3 * paged.pages.length);
      expect(paged.stats.pagesOut).toBe(3 * paged.pages.length);
      expect(paged.stats.bytesIn).toBe(3 * 8 * numel);
      expect(paged.pages.length).toBeGreaterThan(paged.groups.length); // the default group did not fit in one page
      for (const page of paged.pages) expect(page.bytes).toBeLessThanOrEqual(budget);
      // 8-bit: 2 bytes per element plus 8 per 256-block for tensors >= 4096 elements, else 8.
      const want = [...params.values()].reduce(
        (a, p) => a + (optimBits === 8 && p.size >= 4096 ? 2 * p.size + 8 * Math.ceil(p.size / 256) : 8 * p.size),
        0,
      );
      expect(paged.hostStateBytes).toBe(want);
      paged.dispose();
    }
    tf.dispose([...grads.values()]);
  });

  it("without a budget makes one page per parameter group", () => {
    const { params, grads } = tinyWithGrads();
    const paged = new PagedAdamW(params, {
      paramGroups: [{ name: "head", params: ["transformer.ln_f.weight", "transformer.ln_f.bias"], lrMultiplier: 0.5 }],
    });
    expect(paged.pages.map((p) => p.group.name)).toEqual(paged.groups.map((g) => g.name));
    paged.step(grads);
    expect(paged.stats.pagesIn).toBe(paged.groups.length);
    tf.dispose([...grads.values()]);
  });

  it("names the parameter and the budget it needs when one parameter does not fit", () => {
    const { params, grads } = tinyWithGrads();
    const n = params.get("transformer.wte.weight")!.size; // the first parameter, and too large
    expect(() => new PagedAdamW(params, { budgetBytes: 100_000 })).toThrow(
      new RegExp(
        `"transformer.wte.weight" \\(${n} elements\\) needs ${(8 + PAGE_TEMP_BYTES_PER_ELEMENT) * n + 256} bytes.*raise budgetBytes to at least`,
      ),
    );
    tf.dispose([...grads.values()]);
  });

  it("stateTensors() gives the moments as float32 tensors under torch's names, freed by the next step", () => {
    const { params, grads } = tinyWithGrads();
    const paged = new PagedAdamW(params, { optimBits: 8 });
    paged.step(grads);
    const before = tf.memory().numTensors;
    const states = paged.stateTensors();
    expect(Object.keys(states)).toContain("transformer.h.0.attn.c_attn.weight.exp_avg_sq");
    expect(tf.memory().numTensors).toBe(before + 2 * params.size);
    paged.step(grads);
    expect(tf.memory().numTensors).toBe(before);
    paged.dispose();
    tf.dispose([...grads.values()]);
  });
});
