import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { GPT2Attention, GPT2Config } from "../../src/models/index.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

/** Keys and values of `x` as the attention computes them, [B, nh, T, hs] each. */
function keysValues(attn: GPT2Attention, x: tf.Tensor): { key: tf.Tensor; value: tf.Tensor } {
  return tf.tidy(() => {
    const [B, T, C] = x.shape as [number, number, number];
    const nh = attn.config.nHead;
    const [, k, v] = tf.split(attn.c_attn.forward(x), 3, -1).map((t) => t.reshape([B, T, nh, C / nh]).transpose([0, 2, 1, 3]));
    return { key: k, value: v };
  });
}

function maxAbsDiff(a: tf.Tensor, b: tf.Tensor): number {
  return tf.tidy(() => a.sub(b).abs().max().dataSync()[0]);
}

describe("GPT2Attention.forward(x, past)", () => {
  // [past positions, present positions]: the KV-cache step (T = 1), a prompt continued, a long past.
  const cases: Array<[number, number]> = [
    [1, 1],
    [3, 1],
    [2, 4],
    [6, 3],
  ];
  for (const [P, T] of cases) {
    it(`with ${P} past and ${T} present positions equals attention over all ${P + T} at the last ${T}`, () => {
      seed(7);
      const attn = new GPT2Attention(GPT2Config.preset("tiny"), 1);
      attn.eval();
      const B = 2;
      const C = attn.config.nEmbd;
      const x = tf.randomNormal([B, P + T, C], 0, 1, "float32", 11);
      const full = attn.forward(x); // [B, P+T, C]
      const before = tf.memory().numTensors;
      const first = x.slice([0, 0, 0], [B, P, C]);
      const past = keysValues(attn, first);
      const present = x.slice([0, P, 0], [B, T, C]);
      const y = attn.forward(present, past);
      expect(y.shape).toEqual([B, T, C]);
      const last = full.slice([0, P, 0], [B, T, C]);
      expect(maxAbsDiff(y, last)).toBeLessThan(1e-5);
      // A past that changes the result is really attended to: a different past gives other outputs.
      const negated = first.neg();
      const other = keysValues(attn, negated);
      const y2 = attn.forward(present, other);
      expect(maxAbsDiff(y2, last)).toBeGreaterThan(1e-3);
      tf.dispose([first, negated, y, y2, last, present, past.key, past.value, other.key, other.value]);
      expect(tf.memory().numTensors).toBe(before);
      tf.dispose([x, full]);
      attn.dispose();
    });
  }
});
