import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ready } from "../../src/engine/index.js";

// The cpu backend's UnsortedSegmentSum (written by the TensorFlow.js team) is the reference.
async function onBoth<T>(fn: () => T): Promise<{ wasm: T; cpu: T }> {
  await ready({ backend: "cpu" });
  const cpu = fn();
  await ready({ backend: "wasm" });
  const wasm = fn();
  return { wasm, cpu };
}

describe("wasm UnsortedSegmentSum", () => {
  beforeAll(async () => {
    await ready({ backend: "wasm" });
  });

  it("sums rows into segments like the cpu backend", async () => {
    const { wasm, cpu } = await onBoth(() =>
      tf.tidy(() => {
        const x = tf.tensor2d([[1, 2], [3, 4], [5, 6], [7, 8], [9, 10]]);
        return tf.unsortedSegmentSum(x, tf.tensor1d([2, 0, 2, 3, 0], "int32"), 4).arraySync();
      }),
    );
    expect(wasm).toEqual([[12, 14], [0, 0], [6, 8], [7, 8]]);
    expect(wasm).toEqual(cpu);
  });

  it("gives the gradient of an embedding lookup on wasm equal to cpu's", async () => {
    const table = Array.from({ length: 12 }, (_, i) => Array.from({ length: 5 }, (_, j) => Math.sin(i * 5 + j)));
    const ids = [[3, 1, 3], [0, 11, 3]];
    const grad = () =>
      tf.tidy(() => {
        const w = tf.tensor2d(table);
        const g = tf.grad((t: tf.Tensor) => tf.gather(t, tf.tensor2d(ids, [2, 3], "int32")).square().sum())(w);
        return g.arraySync() as number[][];
      });
    const { wasm, cpu } = await onBoth(grad);
    // Independent: d/dw of sum (w[id])^2 is 2 w[i] times how often i appears.
    const counts = new Map<number, number>();
    ids.flat().forEach((i) => counts.set(i, (counts.get(i) ?? 0) + 1));
    table.forEach((row, i) => row.forEach((v, j) => expect(wasm[i][j]).toBeCloseTo(2 * v * (counts.get(i) ?? 0), 5)));
    expect(wasm).toEqual(cpu);
  });

  it("does not leak tensors", async () => {
    const before = tf.memory().numTensors;
    tf.tidy(() => tf.unsortedSegmentSum(tf.ones([6, 3]), tf.tensor1d([0, 1, 0, 1, 2, 2], "int32"), 3)).dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});
