import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { denseSingularValues, snapshotWeights, toPlotSpectra, updateRankTable } from "../../src/inspect/index.js";
import { gpt2, GPT2Config } from "../../src/models/index.js";
import { getPeftModel, LoraConfig, LoraLayer } from "../../src/peft/index.js";
import { train, type TokenBatch } from "../../src/train/index.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

const tiny = () => {
  seed(0);
  return gpt2(new GPT2Config({ vocabSize: 64, nPositions: 8, nEmbd: 16, nLayer: 2, nHead: 2, residPdrop: 0, embdPdrop: 0, attnPdrop: 0 }));
};
const batch = (): TokenBatch => {
  const inputIds = Int32Array.from({ length: 16 }, (_, i) => (i * 7) % 64);
  const targets = Int32Array.from({ length: 16 }, (_, i) => (i * 7 + 1) % 64);
  return { inputIds, targets, shape: [2, 8] };
};

describe("updateRankTable(peftModel)", () => {
  it("lists every adapted module, with spectra equal to the dense SVD of the layer's deltaWeight, and leaks no tensors", async () => {
    const model = getPeftModel(tiny(), new LoraConfig({ r: 4, loraAlpha: 8, targetModules: ["c_attn", "c_proj"] }));
    await train(model, { data: [batch()], steps: 3, lr: 1e-2, progress: false });
    const before = tf.memory().numTensors;
    const rows = updateRankTable(model);
    expect(tf.memory().numTensors).toBe(before);
    const loraLayers = [...model.namedModules()].filter(([, m]) => m instanceof LoraLayer);
    expect(loraLayers).toHaveLength(6);
    expect(rows.map((r) => r.module)).toEqual(loraLayers.map(([n]) => n));
    for (const [i, [, layer]] of loraLayers.entries()) {
      const d = (layer as LoraLayer).deltaWeight("default");
      const [rr, cc] = d.shape as [number, number];
      const ref = denseSingularValues({ rows: rr, cols: cc, data: d.dataSync() });
      const w = (layer as LoraLayer).baseWeight.dataSync();
      d.dispose();
      const row = rows[i]!;
      expect(row).toMatchObject({ kind: "lora", rank: 4, adapter: "default" });
      expect(row.singularValues[0]).toBeGreaterThan(0);
      row.singularValues.forEach((v, k) => expect(Math.abs(v - ref[k]!) / ref[0]!).toBeLessThan(1e-4));
      const wNorm = Math.sqrt(w.reduce((a, v) => a + v * v, 0));
      const dNorm = Math.sqrt(ref.reduce((a, v) => a + v * v, 0));
      expect(row.relativeNorm).toBeCloseTo(dNorm / wNorm, 5);
    }
    const spectra = toPlotSpectra(rows);
    expect(spectra[0]).toEqual({
      layer: rows[0]!.module,
      singularValues: rows[0]!.singularValues,
      stableRank: rows[0]!.stableRank,
      effectiveRank: rows[0]!.effectiveRank,
      loraRank: 4,
    });
  });
});

describe("updateRankTable(model, { reference: snapshotWeights(model) })", () => {
  it("lists every changed 2-D weight after full fine-tuning, none before", async () => {
    const model = tiny();
    const reference = snapshotWeights(model);
    expect(updateRankTable(model, { reference })).toEqual([]);
    await train(model, { data: [batch()], steps: 2, lr: 1e-2, progress: false });
    const before = tf.memory().numTensors;
    const rows = updateRankTable(model, { reference });
    expect(tf.memory().numTensors).toBe(before);
    const changed = [...model.namedParameters()]
      .filter(([n, p]) => {
        const ref = reference.get(n);
        if (!ref) return false;
        const now = p.variable.dataSync();
        return now.some((v, i) => v !== ref.data[i]);
      })
      .map(([n]) => n);
    expect(changed.length).toBeGreaterThan(5);
    expect(rows.map((r) => r.module)).toEqual(changed);
    for (const r of rows) expect(r.kind).toBe("full");
  });
});
