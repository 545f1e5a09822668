import * as tf from "@tensorflow/tfjs";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { readSafetensors } from "../../src/io/index.js";
import { gpt2 } from "../../src/models/index.js";
import type { Conv1D } from "../../src/nn/index.js";
import { getPeftModel, LoraLayer, PeftModel } from "../../src/peft/index.js";

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

describe("DoRA", () => {
  it("starts at the base model, adds a magnitude per output, and computes m (W + sBA) / ||W + sBA|| x + b", () => {
    seed(1);
    const base = gpt2("tiny");
    const before = logits(base);
    const model = getPeftModel(base, { r: 4, loraAlpha: 8, targetModules: ["c_fc"], useDora: true });
    expect(maxAbsDiff(logits(model), before)).toBeLessThan(1e-5);
    expect(model.getNbTrainableParameters()[0]).toBe(4 * (4 * (128 + 512) + 512));
    for (const [name, p] of model.namedParameters()) {
      if (!p.requiresGrad) continue;
      const v = name.includes("magnitude")
        ? p.variable.mul(tf.randomUniform(p.shape, 0.5, 1.5, "float32", 2))
        : tf.randomNormal(p.shape, 0, 0.05, "float32", 3);
      p.assign(v);
      v.dispose();
    }
    const layer = model.baseModel.getSubmodule("transformer.h.0.mlp.c_fc") as LoraLayer;
    const x = tf.randomNormal([2, 128], 0, 1, "float32", 4);
    const y = layer.forward(x).arraySync() as number[][];
    const X = x.arraySync() as number[][];
    const W = (layer.base_layer as Conv1D).weight.variable.arraySync() as number[][]; // [in, out]
    const b = (layer.base_layer as Conv1D).bias.variable.arraySync() as number[];
    const A = layer.lora_A.get("default")!.weight.variable.arraySync() as number[][];
    const B = layer.lora_B.get("default")!.weight.variable.arraySync() as number[][];
    const m = layer.lora_magnitude_vector.get("default")!.weight.variable.arraySync() as number[];
    let err = 0;
    for (let o = 0; o < 512; o++) {
      // column o of the adapted weight, as [in]
      const col = W.map((row, i) => row[o] + 2 * B[o].reduce((s, v, k) => s + v * A[k][i], 0));
      const norm = Math.sqrt(col.reduce((s, v) => s + v * v, 0));
      X.forEach((row, n) => {
        const want = (m[o] / norm) * row.reduce((s, v, i) => s + v * col[i], 0) + b[o];
        err = Math.max(err, Math.abs(y[n][o] - want));
      });
    }
    expect(err).toBeLessThan(1e-4);
    x.dispose();
    const unmerged = logits(model);
    const w0 = (layer.base_layer as Conv1D).weight.variable.dataSync().slice();
    model.merge();
    expect(maxAbsDiff(logits(model), unmerged)).toBeLessThan(1e-4);
    model.unmerge();
    expect(maxAbsDiff((layer.base_layer as Conv1D).weight.variable.dataSync(), w0)).toBeLessThan(1e-5);
  });

  it("trains the magnitude, saves it under PEFT's key name (<module>.lora_magnitude_vector) with use_dora, and loads back through lora-lab", async () => {
    seed(2);
    const model = getPeftModel(gpt2("tiny"), { r: 2, targetModules: ["c_attn"], useDora: true });
    const vars = model.trainableVariables();
    const { value, grads } = tf.variableGrads(() => model.loss(ids, ids), vars);
    expect(Object.keys(grads).length).toBe(3 * 4);
    tf.dispose([value, ...Object.values(grads)]);
    const dir = mkdtempSync(join(tmpdir(), "lora-lab-dora-"));
    await model.savePretrained(dir);
    const file = await readSafetensors(join(dir, "adapter_model.safetensors"));
    expect(file.tensors["base_model.model.transformer.h.0.attn.c_attn.lora_magnitude_vector"].shape).toEqual([384]);
    expect(JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8")).use_dora).toBe(true);
    const loaded = await PeftModel.fromPretrained(gpt2("tiny"), dir);
    expect(loaded.numParameters()).toBe(model.numParameters());
    expect(() => getPeftModel(gpt2("tiny"), { targetModules: ["wte"], useDora: true })).toThrow(
      /useDora supports Linear and Conv1D layers with a full LoRA, not an Embedding/,
    );
  });
});
