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
        const x = tf.tensor2d([
          [1, 2],
          [3, 4],
          [5, 6],
          [7, 8],
          [9, 10],
        ]);
        return tf.unsortedSegmentSum(x, tf.tensor1d([2, 0, 2, 3, 0], "int32"), 4).arraySync();
      }),
    );
    expect(wasm).toEqual([
      [12, 14],
      [0, 0],
      [6, 8],
      [7, 8],
    ]);
    expect(wasm).toEqual(cpu);
  });

  it("gives the gradient of an embedding lookup on wasm equal to cpu's", async () => {
    const table = Array.from({ length: 12 }, (_, i) => Array.from({ length: 5 }, (_, j) => Math.sin(i * 5 + j)));
    const ids = [
      [3, 1, 3],
      [0, 11, 3],
    ];
    const grad = () =>
      tf.tidy(() => {
        const w = tf.tensor2d(table);
        const g = tf.grad((t: tf.Tensor) =>
          tf
            .gather(t, tf.tensor2d(ids, [2, 3], "int32"))
            .square()
            .sum(),
        )(w);
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

describe("wasm BatchMatMul with transposed operands", () => {
  it("matches the cpu backend for every transpose combination and batch shape", async () => {
    const shapes: Array<[number[], number[], boolean, boolean]> = [
      [[5, 3], [3, 4], false, false],
      [[3, 5], [3, 4], true, false],
      [[5, 3], [4, 3], false, true],
      [[3, 5], [4, 3], true, true],
      [[2, 6, 3], [2, 4, 3], false, true], // attention scores q k^T
      [[2, 3, 6], [2, 3, 4], true, false],
      [[2, 3, 6], [1, 4, 3], true, true], // broadcast batch
    ];
    for (const [sa, sb, ta, tb] of shapes) {
      const product = () =>
        tf.tidy(() => {
          const a = tf.tensor(
            Array.from({ length: sa.reduce((x, y) => x * y) }, (_, i) => Math.cos(i)),
            sa,
          );
          const b = tf.tensor(
            Array.from({ length: sb.reduce((x, y) => x * y) }, (_, i) => Math.sin(i * 0.7)),
            sb,
          );
          return tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, ta, tb).arraySync();
        });
      const { wasm, cpu } = await onBoth(product);
      const flatW = (wasm as number[]).flat(3) as number[];
      const flatC = (cpu as number[]).flat(3) as number[];
      expect(flatW.length).toBe(flatC.length);
      flatW.forEach((v, i) => expect(v).toBeCloseTo(flatC[i], 5));
    }
  });

  it("frees its transposed copies", async () => {
    await ready({ backend: "wasm" });
    const a = tf.ones([4, 3]);
    const b = tf.ones([5, 3]);
    // The backend's own count of live buffers sees copies made inside a kernel; tf.memory() does not.
    const buffers = () => (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
    const before = buffers();
    for (let i = 0; i < 5; i++) tf.matMul(a, b, false, true).dispose();
    expect(buffers()).toBe(before);
    tf.dispose([a, b]);
  });
});
