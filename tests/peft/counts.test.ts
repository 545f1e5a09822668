import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { gpt2, t5 } from "../../src/models/index.js";
import { applyPlan, articlePlan, getPeftModel, type PeftModel } from "../../src/peft/index.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
  vi.spyOn(console, "warn").mockImplementation(() => {});
  vi.spyOn(console, "log").mockImplementation(() => {});
});

// The 124M "gpt2" shape: 124,439,808 parameters (HF's published count for the tied model).
// Each test's expected line is PEFT's, measured with Python PEFT (docs/peft-reference) or by hand:
// r=16 on c_attn of 3 layers: 3 * 16 * (768 + 2304) = 147,456.
describe("PEFT's trainable-parameter line on the 124M gpt2 shape", () => {
  it("r=16 on c_attn of layers 9-11, then r=8 on c_attn of every layer", () => {
    seed(0);
    const base = gpt2("gpt2");
    expect(base.numParameters()).toBe(124_439_808);
    const model = getPeftModel(base, {
      r: 16,
      loraAlpha: 32,
      targetModules: ["c_attn"],
      loraDropout: 0.05,
      bias: "none",
      taskType: "CAUSAL_LM",
      layersToTransform: [9, 10, 11],
    });
    expect(model.printTrainableParameters()).toBe("trainable params: 147,456 || all params: 124,587,264 || trainable%: 0.1184");
    const again = getPeftModel(model.unload(), { r: 8, targetModules: ["c_attn"] });
    expect(again.printTrainableParameters()).toBe("trainable params: 294,912 || all params: 124,734,720 || trainable%: 0.2364");
    // rankPattern: layer 0's c_attn at r=64, the rest at 8: 11 * 8 * 3072 + 64 * 3072 = 466,944
    const patterned = getPeftModel(again.unload(), { r: 8, targetModules: ["c_attn"], rankPattern: { "h\\.0\\.attn\\.c_attn": 64 } });
    expect(patterned.getNbTrainableParameters()).toEqual([466_944, 124_439_808 + 466_944]);
    // the article plan on 12 layers: 0-5 frozen; 6-8 r 8 on Q, V; 9-11 r 16 on Q, V; a trainable head copy.
    // By hand: 3 * 8 * (768 + 1536) + 3 * 16 * (768 + 1536) + 50257 * 768 = 38,763,264
    const base2 = patterned.unload();
    const article = applyPlan(base2, articlePlan(base2)).model as PeftModel;
    const t = 3 * 8 * (768 + 1536) + 3 * 16 * (768 + 1536) + 50257 * 768;
    expect(t).toBe(38_763_264);
    expect(article.printTrainableParameters()).toBe(
      `trainable params: 38,763,264 || all params: 163,203,072 || trainable%: ${((100 * t) / (124_439_808 + t)).toFixed(4)}`,
    );
    article.dispose();
  }, 120_000);
});

describe("T5 defaults", () => {
  it("t5-small, q and v, r=8: PEFT's line", () => {
    seed(0);
    const model = getPeftModel(t5("t5-small"), { r: 8, taskType: "SEQ_2_SEQ_LM" });
    expect(model.printTrainableParameters()).toBe("trainable params: 294,912 || all params: 60,801,536 || trainable%: 0.4850");
    model.dispose();
  }, 120_000);

  it("targets q and v of every attention, as PEFT's default for t5", () => {
    seed(0);
    const model = getPeftModel(t5("tiny"), { r: 4 });
    const wrapped = [...model.baseModel.namedModules().keys()].filter((k) => k.endsWith(".lora_A")).map((k) => k.replace(/\.lora_A$/, ""));
    expect(wrapped).toContain("encoder.block.0.layer.0.SelfAttention.q");
    expect(wrapped).toContain("decoder.block.0.layer.1.EncDecAttention.v");
    expect(wrapped.every((k) => /\.(q|v)$/.test(k))).toBe(true);
  });
});

describe("LoRA on T5 (architecture-agnostic injection)", () => {
  it("starts at the base logits, merges to the same logits, and trains only LoRA without leaks", () => {
    seed(1);
    const base = t5("tiny");
    const src = [[5, 6, 7, 8, 9]];
    const tgt = [[0, 10, 11, 12]];
    const run = (m: { forward(a: number[][], b: number[][]): tf.Tensor }) => {
      const t = m.forward(src, tgt);
      const d = t.dataSync().slice();
      t.dispose();
      return d;
    };
    const before = run(base);
    const model = getPeftModel(base, { r: 4, targetModules: ["q", "v", "wo"] });
    expect(Array.from(run(model))).toEqual(Array.from(before));
    for (const [name, p] of model.namedParameters()) {
      if (!name.includes("lora_")) continue;
      const v = p.variable.add(0.05);
      p.assign(v);
      v.dispose();
    }
    const adapted = run(model);
    expect(Math.max(...adapted.map((v, i) => Math.abs(v - before[i])))).toBeGreaterThan(1e-4);
    const vars = model.trainableVariables();
    const step = () => {
      const { value, grads } = tf.variableGrads(() => model.loss(src, [[10, 11, 12, 1]]), vars);
      const n = Object.keys(grads).length;
      value.dispose();
      Object.values(grads).forEach((g) => g.dispose());
      return n;
    };
    expect(step()).toBe(vars.length);
    const n0 = tf.memory().numTensors;
    step();
    expect(tf.memory().numTensors).toBe(n0);
    const merged = model.mergeAndUnload();
    const after = run(merged as never);
    expect(Math.max(...after.map((v, i) => Math.abs(v - adapted[i])))).toBeLessThan(1e-4);
  });
});
