import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { gpt2, GPT2Config } from "../../src/models/index.js";
import { Conv1D, Linear } from "../../src/nn/index.js";
import { getPeftModel } from "../../src/peft/index.js";
import { LoraLayer } from "../../src/peft/index.js";
import { Linear4bit, NF4_CODE, linear4bitLayers, prepareModelForKbitTraining, quantizeModel } from "../../src/quant/index.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
  vi.spyOn(console, "warn").mockImplementation(() => {});
  vi.spyOn(console, "log").mockImplementation(() => {});
});

/** y[n][o] = sum_i x[n][i] * w[o][i] + b[o], in plain float64 loops. */
function reference(x: Float32Array, n: number, w: Float32Array, out: number, inn: number, b?: Float32Array): Float64Array {
  const y = new Float64Array(n * out);
  for (let r = 0; r < n; r++)
    for (let o = 0; o < out; o++) {
      let s = b ? b[o] : 0;
      for (let i = 0; i < inn; i++) s += x[r * inn + i] * w[o * inn + i];
      y[r * out + o] = s;
    }
  return y;
}

describe("Linear4bit", () => {
  it("forward equals x W^T + b with W decoded from the packed nibbles by hand (Linear and transposed Conv1D)", () => {
    seed(1);
    for (const layer of [new Linear(64, 32), new Conv1D(64, 32)]) {
      const q = Linear4bit.fromLayer(layer, { quantType: "nf4", blocksize: 64 });
      // decode: row o of [out, in] is block o (blocksize = in); code = high nibble first
      const absmax = q.weight4bit.absmax!;
      const w = Float32Array.from({ length: 32 * 64 }, (_, k) => {
        const byte = q.weight4bit.packed[k >> 1];
        return NF4_CODE[k % 2 ? byte & 15 : byte >> 4] * absmax[Math.floor(k / 64)];
      });
      const float = (layer instanceof Conv1D ? layer.weight.variable.transpose() : layer.weight.variable).dataSync();
      for (let k = 0; k < w.length; k++) expect(Math.abs(w[k] - float[k])).toBeLessThanOrEqual(absmax[Math.floor(k / 64)] * 0.17); // half the widest NF4 gap
      const x = tf.randomNormal([3, 64], 0, 1, "float32", 7);
      const y = q.forward(x);
      const want = reference(x.dataSync() as Float32Array, 3, w, 32, 64, layer.bias!.variable.dataSync() as Float32Array);
      const got = y.dataSync();
      for (let k = 0; k < want.length; k++) expect(got[k]).toBeCloseTo(want[k], 4);
      tf.dispose([x, y]);
    }
  });

  it("passes gradients to its input, holds no variable for the weight and leaks no tensor", () => {
    seed(2);
    const q = Linear4bit.fromLayer(new Linear(16, 8), { quantType: "fp4", blocksize: 32, doubleQuant: true });
    expect([...q.namedParameters().keys()]).toEqual(["bias"]);
    expect(q.trainableVariables()).toEqual([]);
    const x = tf.randomNormal([2, 16]);
    const before = tf.memory().numTensors;
    const g = tf.grad((v: tf.Tensor) => q.forward(v).sum())(x);
    // d/dx sum(x W^T) = column sums of W, the same for every row
    const w = tf.tidy(() => q.dequantizedWeight().sum(0));
    expect(Array.from(g.dataSync().slice(0, 16))).toEqual(Array.from(w.dataSync()).map((v) => expect.closeTo(v, 5)));
    tf.dispose([g, w]);
    expect(tf.memory().numTensors).toBe(before);
    x.dispose();
  });
});

describe("quantizeModel on the GPT-2 presets", () => {
  for (const preset of ["tiny", "small"] as const) {
    it(`${preset}: packed storage measures 4.5 and ~4.127 bits per parameter within 1%, lm_head kept in float32`, () => {
      for (const doubleQuant of [false, true]) {
        seed(0);
        const config = GPT2Config.preset(preset);
        const model = gpt2(config);
        const { nEmbd: d, nLayer: L } = config;
        // by hand: c_attn d*3d, attn.c_proj d*d, c_fc d*4d, mlp.c_proj 4d*d per block
        const numel = L * (3 * d * d + d * d + 4 * d * d + 4 * d * d);
        const bytesBefore = tf.memory().numBytes;
        quantizeModel(model, { quantType: "nf4", blocksize: 64, doubleQuant });
        const layers = linear4bitLayers(model);
        expect(layers.size).toBe(4 * L);
        expect([...layers.keys()].some((k) => k.includes("lm_head"))).toBe(false);
        let bytes = 0;
        let count = 0;
        for (const l of layers.values()) ((bytes += l.weightBytes), (count += l.weight4bit.numel));
        expect(count).toBe(numel);
        const bits = (8 * bytes) / numel;
        const stated = doubleQuant ? 4 + 8 / 64 + 32 / (64 * 256) : 4 + 32 / 64;
        expect(Math.abs(bits - stated) / stated).toBeLessThan(0.01);
        // the float32 weights left the backend: 4 bytes each
        expect(bytesBefore - tf.memory().numBytes).toBe(4 * numel);
        model.dispose();
      }
    });
  }
});

describe("QLoRA: getPeftModel on a quantized base", () => {
  it("wraps Linear4bit through the first dispatcher, trains only A and B, counts as PEFT does", () => {
    seed(0);
    const config = GPT2Config.preset("tiny");
    const float = getPeftModel(gpt2(config), { r: 8, targetModules: ["c_attn"] });
    seed(0);
    const base = prepareModelForKbitTraining(gpt2(config), { quantType: "nf4", doubleQuant: true });
    expect(base.trainableVariables()).toEqual([]);
    const model = getPeftModel(base, { r: 8, targetModules: ["c_attn"] });
    const layer = model.baseModel.getSubmodule("transformer.h.0.attn.c_attn") as LoraLayer;
    expect(layer).toBeInstanceOf(LoraLayer);
    expect(layer.base_layer).toBeInstanceOf(Linear4bit);
    const trainable = [...model.namedParameters()].filter(([, p]) => p.requiresGrad).map(([n]) => n);
    expect(trainable.length).toBe(2 * config.nLayer);
    expect(trainable.every((n) => /\.lora_[AB]\.default\.weight$/.test(n))).toBe(true);
    // By hand for tiny (d 128, 4 layers, vocab 256, 64 positions, lm_head tied):
    // wte 32,768 + wpe 8,192 + ln_f 256 + 4 * (2 * 256 + 49,536 + 16,512 + 66,048 + 65,664) = 834,304;
    // LoRA 4 * 8 * (128 + 384) = 16,384; PEFT counts each packed uint8 as 2 parameters, so the
    // 786,432 quantized weights count the same as in float.
    const line = "trainable params: 16,384 || all params: 850,688 || trainable%: 1.9260";
    expect(model.printTrainableParameters()).toBe(line);
    expect(float.printTrainableParameters()).toBe(line);
    expect(() => model.mergeAndUnload()).toThrow(/4-bit Linear4bit/);
    // all-linear resolves to the quantized layers too
    seed(0);
    const all = getPeftModel(quantizeModel(gpt2(config)), { r: 4, targetModules: "all-linear" });
    expect(all.getNbTrainableParameters()[0]).toBe(config.nLayer * 4 * (128 + 384 + 128 + 128 + 128 + 512 + 512 + 128));
    for (const m of [float, model, all]) m.dispose();
  });
});
