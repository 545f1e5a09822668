import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { gpt2, GPT2Config, type GPT2LMHeadModel } from "../../src/models/index.js";
import { Linear, Module } from "../../src/nn/index.js";
import { getPeftModel, LoraConfig, LoraLayer, ModulesToSaveWrapper, PeftModel } from "../../src/peft/index.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
  vi.spyOn(console, "warn").mockImplementation(() => {});
  vi.spyOn(console, "log").mockImplementation(() => {});
});

const TINY = GPT2Config.preset("tiny"); // C 128, 4 layers, vocab 256, 64 positions
const ids = [[1, 5, 9, 200, 17, 3, 44, 90]];
const targets = [[5, 9, 200, 17, 3, 44, 90, 2]];

/** GPT-2 parameter count from its shapes (tied head counted once). */
function gpt2Params(c: { V: number; P: number; C: number; L: number }): number {
  const { V, P, C, L } = c;
  const block = 2 * 2 * C + (C * 3 * C + 3 * C) + (C * C + C) + (C * 4 * C + 4 * C) + (4 * C * C + C);
  return V * C + P * C + L * block + 2 * C;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

function logitsOf(m: { forward(x: number[][]): tf.Tensor }): Float32Array {
  const t = m.forward(ids);
  const d = t.dataSync() as Float32Array;
  t.dispose();
  return d;
}

/** Gives every LoRA A and B random values, as after training. */
function randomizeLora(model: Module): void {
  for (const [name, p] of model.namedParameters()) {
    if (!name.includes("lora_")) continue;
    const v = tf.randomNormal(p.shape, 0, 0.05, "float32", name.length);
    p.assign(v);
    v.dispose();
  }
}

describe("getPeftModel on GPT-2", () => {
  it("with B = 0 gives exactly the base model's logits", () => {
    seed(1);
    const base = gpt2(TINY);
    const before = logitsOf(base);
    const model = getPeftModel(base, { r: 8, loraAlpha: 16, targetModules: ["c_attn"] });
    expect(maxAbsDiff(logitsOf(model), before)).toBe(0);
  });

  it("names parameters as PEFT does and freezes everything but LoRA", () => {
    seed(2);
    const model = getPeftModel(gpt2(TINY), new LoraConfig({ targetModules: ["c_attn"] }));
    const names = [...model.namedParameters().keys()];
    expect(names).toContain("base_model.model.transformer.h.0.attn.c_attn.lora_A.default.weight");
    expect(names).toContain("base_model.model.transformer.h.0.attn.c_attn.base_layer.weight");
    const trainable = [...model.namedParameters()].filter(([, p]) => p.requiresGrad).map(([n]) => n);
    expect(trainable.length).toBe(2 * TINY.nLayer);
    expect(trainable.every((n) => /\.lora_[AB]\.default\.weight$/.test(n))).toBe(true);
    const layer = model.baseModel.getSubmodule("transformer.h.0.attn.c_attn") as LoraLayer;
    expect(layer).toBeInstanceOf(LoraLayer);
    expect(layer.fanInFanOut).toBe(true); // forced for Conv1D
    expect(layer.lora_A.get("default")!.weight.shape).toEqual([8, 128]); // (r, in)
    expect(layer.lora_B.get("default")!.weight.shape).toEqual([384, 8]); // (out, r)
  });

  it("counts parameters as computed by hand (tiny and small shapes)", () => {
    for (const [preset, r] of [
      ["tiny", 8],
      ["small", 4],
    ] as const) {
      seed(3);
      const cfg = GPT2Config.preset(preset);
      const C = cfg.nEmbd;
      const base = gpt2Params({ V: cfg.vocabSize, P: cfg.nPositions, C, L: cfg.nLayer });
      const perLayer = r * C + 3 * C * r;
      const model = getPeftModel(gpt2(cfg), { r, targetModules: ["c_attn"], layersToTransform: [1, 2] });
      expect(model.getNbTrainableParameters()).toEqual([2 * perLayer, base + 2 * perLayer]);
      const t = 2 * perLayer;
      const a = base + t;
      expect(model.printTrainableParameters()).toBe(
        `trainable params: ${t.toLocaleString("en-US")} || all params: ${a.toLocaleString("en-US")} || trainable%: ${((100 * t) / a).toFixed(4)}`,
      );
      model.dispose();
    }
  });

  it("rankPattern and alphaPattern set r and scaling per module", () => {
    seed(4);
    const model = getPeftModel(gpt2(TINY), {
      r: 4,
      loraAlpha: 8,
      targetModules: ["c_attn", "c_proj"],
      rankPattern: { "h\\.0\\.attn\\.c_attn": 16, "mlp.c_proj": 2 },
      alphaPattern: { c_proj: 1 },
    });
    const get = (k: string) => model.baseModel.getSubmodule(k) as LoraLayer;
    expect(get("transformer.h.0.attn.c_attn").specs.get("default")!.r).toBe(16);
    expect(get("transformer.h.0.attn.c_attn").scaling.get("default")).toBe(8 / 16);
    expect(get("transformer.h.1.attn.c_attn").specs.get("default")!.r).toBe(4);
    expect(get("transformer.h.1.mlp.c_proj").specs.get("default")!.r).toBe(2);
    expect(get("transformer.h.1.mlp.c_proj").scaling.get("default")).toBe(1 / 2);
    expect(get("transformer.h.1.attn.c_proj").scaling.get("default")).toBe(1 / 4);
    // by hand: c_attn h0 16*(128+384), c_attn others 4*(128+384), attn.c_proj 4*(128+128), mlp.c_proj 2*(512+128)
    const C = 128;
    const expected = 16 * 4 * C + 3 * 4 * 4 * C + 4 * 4 * 2 * C + 4 * 2 * 5 * C;
    expect(model.getNbTrainableParameters()[0]).toBe(expected);
  });

  it("after training a LoRA layer outputs W x + b + scaling B A x (Conv1D and Linear, alpha/r and alpha/sqrt(r))", () => {
    for (const useRslora of [false, true]) {
      seed(5);
      const base = gpt2(TINY);
      const model = getPeftModel(base, { r: 4, loraAlpha: 12, useRslora, targetModules: ["c_fc", "lm_head"] });
      randomizeLora(model);
      const scaling = useRslora ? 12 / 2 : 12 / 4;
      for (const key of ["transformer.h.1.mlp.c_fc", "lm_head"]) {
        const layer = model.baseModel.getSubmodule(key) as LoraLayer;
        const x = tf.randomNormal([3, 128], 0, 1, "float32", 7);
        const y = layer.forward(x);
        // reference: plain loops in float64 from the raw arrays
        const X = x.arraySync() as number[][];
        const W = (layer.base_layer as Linear).weight.variable.arraySync() as number[][];
        const bias = (layer.base_layer as Linear).bias?.variable.arraySync() as number[] | undefined;
        const A = layer.lora_A.get("default")!.weight.variable.arraySync() as number[][]; // [r, in]
        const B = layer.lora_B.get("default")!.weight.variable.arraySync() as number[][]; // [out, r]
        const conv = key !== "lm_head";
        const out = layer.outFeatures;
        const ref: number[] = [];
        for (const row of X) {
          const ax = A.map((a) => a.reduce((s, v, i) => s + v * row[i], 0));
          for (let o = 0; o < out; o++) {
            let s = bias ? bias[o] : 0;
            for (let i = 0; i < 128; i++) s += row[i] * (conv ? W[i][o] : W[o][i]);
            s += scaling * B[o].reduce((acc, v, k) => acc + v * ax[k], 0);
            ref.push(s);
          }
        }
        expect(maxAbsDiff(y.dataSync(), ref)).toBeLessThan(1e-5);
        tf.dispose([x, y]);
      }
      model.dispose();
    }
  });

  it("mergeAndUnload gives the unmerged logits to 1e-4 and plain layers; merge/unmerge restores the weights", () => {
    seed(6);
    const base = gpt2(TINY);
    const model = getPeftModel(base, { r: 8, loraAlpha: 16, targetModules: ["c_attn", "c_proj", "c_fc"] });
    randomizeLora(model);
    const unmerged = logitsOf(model);
    const w0 = (base.getSubmodule("transformer.h.0.attn.c_attn.base_layer") as Linear).weight.variable.dataSync().slice();
    model.merge();
    expect(maxAbsDiff(logitsOf(model), unmerged)).toBeLessThan(1e-4);
    model.unmerge();
    const w1 = (base.getSubmodule("transformer.h.0.attn.c_attn.base_layer") as Linear).weight.variable.dataSync();
    expect(maxAbsDiff(w1, w0)).toBeLessThan(1e-6);
    const merged = model.mergeAndUnload() as GPT2LMHeadModel;
    expect([...merged.namedModules().values()].some((m) => m instanceof LoraLayer)).toBe(false);
    expect(merged.transformer.h.at(0).attn.c_attn.constructor.name).toBe("Conv1D");
    expect(maxAbsDiff(logitsOf(merged), unmerged)).toBeLessThan(1e-4);
    expect(merged.numParameters()).toBe(gpt2Params({ V: 256, P: 64, C: 128, L: 4 }));
  });

  it("disableAdapter runs the base model and turns the adapters back on", async () => {
    seed(7);
    const base = gpt2(TINY);
    const before = logitsOf(base);
    const model = getPeftModel(base, { r: 4, targetModules: ["c_attn"] });
    randomizeLora(model);
    const withLora = logitsOf(model);
    expect(maxAbsDiff(withLora, before)).toBeGreaterThan(1e-3);
    expect(
      maxAbsDiff(
        model.disableAdapter(() => logitsOf(model)),
        before,
      ),
    ).toBe(0);
    expect(maxAbsDiff(await model.disableAdapter(async () => logitsOf(model)), before)).toBe(0);
    expect(maxAbsDiff(logitsOf(model), withLora)).toBe(0);
  });

  it("only LoRA parameters (and modulesToSave) receive gradients; no tensors leak across steps", () => {
    seed(8);
    const model = getPeftModel(gpt2(TINY), { r: 4, targetModules: ["c_attn"], modulesToSave: ["ln_f"] });
    const vars = model.trainableVariables();
    const names = new Map([...model.namedParameters()].map(([n, p]) => [p.variable.name, n]));
    const step = () => {
      const { value, grads } = tf.variableGrads(() => model.loss(ids, targets), vars);
      const got = Object.keys(grads).map((v) => names.get(v) as string);
      tf.dispose([value, ...Object.values(grads)]);
      return got;
    };
    const got = step();
    expect(got.length).toBe(2 * 4 + 2);
    expect(got.every((n) => n.includes(".lora_") || n.includes("ln_f.modules_to_save.default."))).toBe(true);
    const n0 = tf.memory().numTensors;
    step();
    step();
    expect(tf.memory().numTensors).toBe(n0);
  });

  it("modulesToSave keeps a trainable copy of the LM head and counts it", () => {
    seed(9);
    const base = gpt2(TINY);
    const model = getPeftModel(base, { r: 4, targetModules: ["c_attn"], modulesToSave: ["lm_head"] });
    expect(base.getSubmodule("lm_head")).toBeInstanceOf(ModulesToSaveWrapper);
    const [t, a] = model.getNbTrainableParameters();
    const lora = 4 * 4 * (128 + 384);
    expect(t).toBe(lora + 256 * 128);
    expect(a).toBe(gpt2Params({ V: 256, P: 64, C: 128, L: 4 }) + lora + 256 * 128);
  });

  it("bias 'all' and 'lora_only' make the biases trainable as PEFT does", () => {
    seed(10);
    const lora = 4 * 4 * (128 + 384);
    const all = getPeftModel(gpt2(TINY), { r: 4, targetModules: ["c_attn"], bias: "all" });
    // every bias of the tiny model: per block ln_1, ln_2 (128 each), c_attn 384, c_proj 128, c_fc 512, c_proj 128; ln_f 128
    expect(all.getNbTrainableParameters()[0]).toBe(lora + 4 * (128 + 128 + 384 + 128 + 512 + 128) + 128);
    const only = getPeftModel(gpt2(TINY), { r: 4, targetModules: ["c_attn"], bias: "lora_only" });
    expect(only.getNbTrainableParameters()[0]).toBe(lora + 4 * 384);
  });

  it("initLoraWeights: gaussian has A ~ N(0, 1/r), false makes B non-zero", () => {
    seed(11);
    const g = getPeftModel(gpt2(TINY), { r: 4, targetModules: ["c_fc"], initLoraWeights: "gaussian" });
    const A = (g.baseModel.getSubmodule("transformer.h.0.mlp.c_fc") as LoraLayer).lora_A.get("default")!.weight.variable;
    const std = Math.sqrt(tf.tidy(() => A.square().mean().dataSync()[0]));
    expect(std).toBeGreaterThan(0.2);
    expect(std).toBeLessThan(0.3);
    const f = getPeftModel(gpt2(TINY), { r: 4, targetModules: ["c_fc"], initLoraWeights: false });
    const B = (f.baseModel.getSubmodule("transformer.h.0.mlp.c_fc") as LoraLayer).lora_B.get("default")!.weight.variable;
    expect(tf.tidy(() => B.abs().max().dataSync()[0])).toBeGreaterThan(0);
  });

  it("LoRA on an Embedding starts at zero and merges into the table", () => {
    seed(12);
    const base = gpt2(GPT2Config.preset("tiny", { tieWordEmbeddings: false }));
    const before = logitsOf(base);
    const model = getPeftModel(base, { r: 4, targetModules: ["wte"] });
    expect(maxAbsDiff(logitsOf(model), before)).toBe(0);
    randomizeLora(model);
    const withLora = logitsOf(model);
    expect(maxAbsDiff(withLora, before)).toBeGreaterThan(1e-4);
    const merged = model.mergeAndUnload();
    expect(maxAbsDiff(logitsOf(merged), withLora)).toBeLessThan(1e-4);
  });

  it("forwards train(), generate() and loss() to the base model", () => {
    seed(13);
    const model = getPeftModel(gpt2(TINY), { r: 4, targetModules: ["c_attn"] });
    model.train(false);
    expect(model.baseModel.training).toBe(false);
    const out = model.generate([1, 2, 3], { maxNewTokens: 2, temperature: 0 });
    expect(out[0].length).toBe(5);
    const l = model.loss(ids, targets);
    expect(l.dataSync()[0]).toBeGreaterThan(0);
    l.dispose();
    expect(model).toBeInstanceOf(PeftModel);
  });
});
