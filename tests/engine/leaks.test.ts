import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { expectNoLeak, ready } from "../../src/engine/index.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

describe("expectNoLeak(fn, allowed)", () => {
  it("returns fn's result when fn leaves nothing alive", async () => {
    expect(await expectNoLeak(() => tf.tidy(() => tf.add(1, 2).dataSync()[0]))).toBe(3);
  });

  it("throws with the count when fn leaves tensors behind", async () => {
    const kept: tf.Tensor[] = [];
    await expect(expectNoLeak(() => void kept.push(tf.ones([2]), tf.zeros([1])))).rejects.toThrow(
      "tensor leak: 2 tensor(s) left alive after the call (allowed 0)",
    );
    tf.dispose(kept);
  });

  it("lets through the tensors fn returns when they are allowed, and awaits async fns", async () => {
    const t = await expectNoLeak(async () => tf.ones([3]), 1);
    expect(t.shape).toEqual([3]);
    t.dispose();
  });
});
