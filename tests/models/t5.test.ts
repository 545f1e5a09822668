import * as tf from "@tensorflow/tfjs";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { ready } from "../../src/engine/index.js";
import { T5ForConditionalGeneration, fromPretrained, relativePositionBucket } from "../../src/models/index.js";

const ROOT = fileURLToPath(new URL("../fixtures/t5-golden", import.meta.url));
// Made by tests/fixtures/make_t5_golden.py: an independent PyTorch implementation of HF's T5.
interface Expected {
  input_ids: number[][];
  attention_mask: number[][];
  labels: number[][];
  decoder_input_ids: number[][];
  logits: number[];
  logits_shape: number[];
  loss: number;
  greedy_source: number[];
  greedy_ids: number[];
  num_parameters: number;
}
const read = (folder: string) => JSON.parse(readFileSync(`${ROOT}/${folder}/expected.json`, "utf8")) as Expected;

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

describe.each([
  ["gated-tied", "gated-gelu, tied head rescaled by d_model^-0.5, 2 encoder / 3 decoder blocks, alias keys in the file"],
  ["relu-untied", "relu, untied lm_head, d_kv != d_model / num_heads"],
])("T5 %s against the PyTorch reference (%s)", (folder) => {
  const expected = read(folder);

  // Measured on wasm (with and without the native addon) and cpu: at most 3.6e-6 (gated-tied), 1.4e-6
  // (relu-untied); the reference runs in float64, so this is lora-lab's float32 rounding.
  it("gives the reference logits with a padded source (max abs diff < 1e-5)", async () => {
    const model = await fromPretrained<T5ForConditionalGeneration>(`${ROOT}/${folder}`);
    expect(model.numParameters()).toBe(expected.num_parameters);
    const before = tf.memory().numTensors;
    const logits = model.forward(expected.input_ids, expected.decoder_input_ids, { attentionMask: expected.attention_mask });
    expect(logits.shape).toEqual(expected.logits_shape);
    expect(maxAbsDiff(logits.dataSync(), expected.logits)).toBeLessThan(1e-5);
    logits.dispose();
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });

  it("gives the reference loss from labels shifted right, ignoring -100", async () => {
    const model = await fromPretrained<T5ForConditionalGeneration>(`${ROOT}/${folder}`);
    const loss = model.loss(expected.input_ids, expected.labels, { attentionMask: expected.attention_mask });
    expect(Math.abs(loss.dataSync()[0] - expected.loss)).toBeLessThan(1e-5);
    loss.dispose();
    model.dispose();
  });

  it("greedy generate() decodes as the reference does, starting from the decoder start token", async () => {
    const model = await fromPretrained<T5ForConditionalGeneration>(`${ROOT}/${folder}`);
    const n = expected.greedy_ids.length - 1;
    const before = tf.memory().numTensors;
    expect(model.generate(expected.greedy_source, { maxNewTokens: n, temperature: 0, eosTokenId: null })).toEqual([expected.greedy_ids]);
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});

describe("relativePositionBucket", () => {
  const tables = JSON.parse(readFileSync(`${ROOT}/buckets.json`, "utf8")) as Record<string, number[]>;
  it.each([
    [32, 128],
    [8, 12],
    [16, 64],
  ])("matches HF's float32 buckets for %i buckets, max distance %i, both directions, positions -300..300", (nb, md) => {
    const rel = tables.relative_positions;
    expect(rel.map((r) => relativePositionBucket(r, true, nb, md))).toEqual(tables[`bidirectional_${nb}_${md}`]);
    expect(rel.map((r) => relativePositionBucket(r, false, nb, md))).toEqual(tables[`causal_${nb}_${md}`]);
  });

  it("puts future keys in bucket 0 for causal attention and in the upper half for bidirectional", () => {
    expect(relativePositionBucket(5, false, 32, 128)).toBe(0);
    expect(relativePositionBucket(-3, false, 32, 128)).toBe(3);
    expect(relativePositionBucket(3, true, 32, 128)).toBe(16 + 3);
    expect(relativePositionBucket(-3, true, 32, 128)).toBe(3);
  });
});
