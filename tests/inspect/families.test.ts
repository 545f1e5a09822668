/**
 * inspect on LoRA models of the LLaMA family (grouped-query attention: v_proj narrower than q_proj)
 * and BART (two stacks, cross-attention): every adapted module gets a row under its own name, the
 * layer index parses from it, and the spectrum is that of scaling * B A formed here in plain arithmetic.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { denseSingularValues, toPlotSpectra, updateRankTable, type UpdateRankRow } from "../../src/inspect/index.js";
import { bart, BartConfig, llama, LlamaConfig } from "../../src/models/index.js";
import { layerIndexOf } from "../../src/nn/index.js";
import { getPeftModel, LoraConfig, LoraLayer } from "../../src/peft/index.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

const R = 4;

/** Gives every lora_B values (B starts at zero), as training would. */
function perturb(model: { namedParameters(): Map<string, { variable: tf.Variable }> }): void {
  let k = 0;
  for (const [name, p] of model.namedParameters())
    if (name.includes("lora_B")) p.variable.assign(tf.tidy(() => tf.randomNormal(p.variable.shape, 0, 0.05, "float32", ++k)));
}

/** Singular values of scaling * B A, the product formed entry by entry. */
function referenceSpectrum(layer: LoraLayer): number[] {
  const A = layer.lora_A.get("default")!.weight.variable;
  const B = layer.lora_B.get("default")!.weight.variable;
  const [out, r] = B.shape as [number, number];
  const inF = A.shape[1] as number;
  const [a, b] = [A.dataSync(), B.dataSync()];
  const s = layer.scaling.get("default")!;
  const d = new Float64Array(out * inF);
  for (let i = 0; i < out; i++)
    for (let j = 0; j < inF; j++) for (let k = 0; k < r; k++) d[i * inF + j] += s * b[i * r + k] * a[k * inF + j];
  return denseSingularValues({ rows: out, cols: inF, data: d });
}

function checkRows(model: { namedModules(): Map<string, unknown> }, rows: UpdateRankRow[]): void {
  const layers = [...model.namedModules()].filter((e): e is [string, LoraLayer] => e[1] instanceof LoraLayer);
  expect(rows.map((r) => r.module)).toEqual(layers.map(([n]) => n));
  for (const [i, [, layer]] of layers.entries()) {
    const row = rows[i]!;
    const ref = referenceSpectrum(layer);
    expect(row.rank).toBe(R);
    row.singularValues.forEach((v, k) => expect(Math.abs(v - ref[k]!) / ref[0]!).toBeLessThan(1e-4));
    // A random rank-R update: exactly R singular values above round-off.
    expect(row.singularValues.filter((v) => v > 1e-5 * row.singularValues[0]!)).toHaveLength(R);
  }
}

describe("updateRankTable on a LLaMA LoRA model", () => {
  it("rows for q_proj and v_proj of the chosen layers, layer indices parsed, spectra of scaling * B A", () => {
    seed(0);
    const config = new LlamaConfig({
      vocabSize: 64,
      hiddenSize: 32,
      intermediateSize: 64,
      numHiddenLayers: 3,
      numAttentionHeads: 4,
      numKeyValueHeads: 2,
      bosTokenId: null,
      eosTokenId: null,
    });
    const model = getPeftModel(
      llama(config),
      new LoraConfig({ r: R, loraAlpha: 8, targetModules: ["q_proj", "v_proj"], layersToTransform: [0, 2] }),
    );
    perturb(model);
    const before = tf.memory().numTensors;
    const rows = updateRankTable(model);
    expect(tf.memory().numTensors).toBe(before);
    expect(rows.map((r) => [layerIndexOf(r.module + "."), r.module.split(".").slice(-2).join(".")])).toEqual([
      [0, "self_attn.q_proj"],
      [0, "self_attn.v_proj"],
      [2, "self_attn.q_proj"],
      [2, "self_attn.v_proj"],
    ]);
    checkRows(model, rows);
    expect(toPlotSpectra(rows).map((s) => s.layer)).toEqual(rows.map((r) => r.module));
    model.dispose();
  });
});

describe("updateRankTable on a BART LoRA model", () => {
  it("rows for the encoder's and decoder's self-attention and the cross-attention, each layer index parsed", () => {
    seed(0);
    const cfg = BartConfig.preset("tiny");
    const model = getPeftModel(bart(cfg) as never, new LoraConfig({ r: R, loraAlpha: 8, targetModules: ["q_proj", "v_proj"] }));
    perturb(model);
    const rows = updateRankTable(model);
    const where = (r: UpdateRankRow) => {
      const m = /\.(encoder|decoder)\.layers\.\d+\.(self_attn|encoder_attn)\.(q_proj|v_proj)$/.exec(r.module);
      return m ? `${m[1]} ${layerIndexOf(r.module + ".")} ${m[2]} ${m[3]}` : r.module;
    };
    const want: string[] = [];
    for (let i = 0; i < cfg.encoderLayers; i++) want.push(`encoder ${i} self_attn q_proj`, `encoder ${i} self_attn v_proj`);
    for (let i = 0; i < cfg.decoderLayers; i++)
      want.push(
        `decoder ${i} self_attn q_proj`,
        `decoder ${i} self_attn v_proj`,
        `decoder ${i} encoder_attn q_proj`,
        `decoder ${i} encoder_attn v_proj`,
      );
    expect(rows.map(where).sort()).toEqual(want.sort());
    checkRows(model, rows);
    model.dispose();
  });
});
