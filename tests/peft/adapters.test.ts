import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { gpt2 } from "../../src/models/index.js";
import type { Conv1D } from "../../src/nn/index.js";
import { getPeftModel, LoraLayer, topSingularTriplets } from "../../src/peft/index.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
  vi.spyOn(console, "warn").mockImplementation(() => {});
});

const ids = [[3, 1, 4, 1, 5, 9, 2, 6]];
function logits(m: { forward(x: number[][]): tf.Tensor }): Float32Array {
  const t = m.forward(ids);
  const d = t.dataSync() as Float32Array;
  t.dispose();
  return d;
}
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
function randomize(
  model: { namedParameters(): Map<string, { shape: number[]; assign(t: tf.Tensor): void }> },
  tag: string,
  s: number,
): void {
  for (const [name, p] of model.namedParameters()) {
    if (!name.includes(`.${tag}.`) || !name.includes("lora_")) continue;
    const v = tf.randomNormal(p.shape, 0, 0.05, "float32", s++);
    p.assign(v);
    v.dispose();
  }
}

describe("multiple named adapters", () => {
  it("addAdapter keeps the active one; setAdapter switches what runs and what trains", () => {
    seed(1);
    const base = gpt2("tiny");
    const plain = logits(base);
    const model = getPeftModel(base, { r: 4, targetModules: ["c_attn"] });
    randomize(model, "default", 1);
    const withDefault = logits(model);
    model.addAdapter("other", { r: 2, targetModules: ["c_attn", "c_fc"] });
    expect(model.activeAdapter).toBe("default");
    expect(maxAbsDiff(logits(model), withDefault)).toBe(0);
    randomize(model, "other", 100);
    model.setAdapter("other");
    const withOther = logits(model);
    expect(maxAbsDiff(withOther, withDefault)).toBeGreaterThan(1e-4);
    const trainable = [...model.namedParameters()].filter(([, p]) => p.requiresGrad).map(([n]) => n);
    expect(trainable.every((n) => n.includes(".other."))).toBe(true);
    expect(model.getNbTrainableParameters()[0]).toBe(4 * 2 * (128 + 384) + 4 * 2 * (128 + 512));
    model.setAdapter("default");
    expect(maxAbsDiff(logits(model), withDefault)).toBe(0);
    model.deleteAdapter("other");
    expect([...model.namedParameters().keys()].some((n) => n.includes(".other."))).toBe(false);
    expect(model.disableAdapter(() => maxAbsDiff(logits(model), plain))).toBe(0);
  });

  it("merge takes named adapters; setAdapter refuses while merged", () => {
    seed(2);
    const model = getPeftModel(gpt2("tiny"), { r: 4, targetModules: ["c_attn"] });
    model.addAdapter("b", { r: 4, targetModules: ["c_attn"] });
    randomize(model, "default", 1);
    model.merge(["default"]);
    expect(() => model.setAdapter("b")).toThrow(/while adapters are merged; call unmerge\(\) first/);
    expect(() => model.merge(["nope"])).toThrow(/adapter "nope" not found; adapters: default, b/);
    model.unmerge();
    model.setAdapter("b");
  });
});

describe("PiSSA init", () => {
  it("finds the top singular values of a matrix with known spectrum", () => {
    // W = U diag(s) V^T from orthonormal U, V (QR of random matrices): s is known exactly.
    const s = [9, 5, 3, 1, 0.5, 0.25];
    const [U, V] = [
      tf.linalg.qr(tf.randomNormal([10, 6], 0, 1, "float32", 1))[0],
      tf.linalg.qr(tf.randomNormal([8, 6], 0, 1, "float32", 2))[0],
    ];
    const W = tf.matMul(U.mul(tf.tensor1d(s)), V, false, true); // [10, 8]
    const top = topSingularTriplets(W, 3);
    top.s.forEach((x, i) => expect(x).toBeCloseTo(s[i], 4));
    tf.dispose([U, V, W, top.u, top.v]);
  });

  it("keeps the layer's output and moves the top-r part of W into B A", () => {
    seed(3);
    const base = gpt2("tiny");
    const before = logits(base);
    const layerW = (base.getSubmodule("transformer.h.0.mlp.c_fc") as Conv1D).weight.variable.dataSync().slice();
    const model = getPeftModel(base, { r: 4, loraAlpha: 8, targetModules: ["c_fc"], initLoraWeights: "pissa" });
    expect(maxAbsDiff(logits(model), before)).toBeLessThan(1e-4);
    const layer = model.baseModel.getSubmodule("transformer.h.0.mlp.c_fc") as LoraLayer;
    // the residual's Frobenius norm^2 = ||W||^2 - sum of the top-4 sigma^2
    const residual = (layer.base_layer as Conv1D).weight.variable.dataSync();
    const W = tf.tensor2d(layerW, [128, 512]);
    const { s, u, v } = topSingularTriplets(W, 4);
    const norm2 = (a: ArrayLike<number>) => Array.from(a).reduce((t, x) => t + x * x, 0);
    expect(norm2(residual)).toBeCloseTo(norm2(layerW) - s.reduce((t, x) => t + x * x, 0), 2);
    tf.dispose([W, u, v]);
  });
});
