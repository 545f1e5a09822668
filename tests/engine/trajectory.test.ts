import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ready, setWasmFastKernels } from "../../src/engine/index.js";
import { t5Trajectory, trajectory } from "./trajectory_helper.js";

// Training with lora-lab's wasm kernels (native or XNNPACK matmul, fused attention, LayerNorm, RMS
// norm, GELU, cross-entropy, AdamW, copy-free Identity/Slice) follows the unpatched wasm backend's loss curve.

beforeAll(async () => {
  await ready({ backend: "wasm" });
});
afterAll(() => setWasmFastKernels(true));

describe("training with lora-lab's wasm kernels", () => {
  it("full fine-tuning: 50 steps of loss equal the unpatched backend's to 1e-4", () => {
    const fast = trajectory(true, false);
    const stock = trajectory(false, false);
    expect(fast[49]).toBeLessThan(fast[0] - 1); // it learns
    fast.forEach((l, i) => expect(Math.abs(l - stock[i])).toBeLessThan(1e-4));
  });

  it("LoRA: 50 steps of loss equal the unpatched backend's to 1e-4, without leaking tensors", () => {
    const before = tf.memory().numTensors;
    const fast = trajectory(true, true);
    expect(tf.memory().numTensors).toBe(before);
    const stock = trajectory(false, true);
    expect(fast[49]).toBeLessThan(fast[0] - 0.1);
    fast.forEach((l, i) => expect(Math.abs(l - stock[i])).toBeLessThan(1e-4));
  });

  it("T5 (position bias, padding, causal and cross attention): 30 steps of loss equal the unpatched backend's to 1e-4", () => {
    const before = tf.memory().numTensors;
    const fast = t5Trajectory(true);
    expect(tf.memory().numTensors).toBe(before);
    const stock = t5Trajectory(false);
    expect(fast[29]).toBeLessThan(fast[0] - 0.5);
    fast.forEach((l, i) => expect(Math.abs(l - stock[i])).toBeLessThan(1e-4));
  });
});
