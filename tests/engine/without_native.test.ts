import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// With the native addon switched off (or absent), transposed products run through the XNNPACK
// wrapper (transposes moved out) and the fused kernels through their JavaScript loops. Set before the engine is imported: the choice is made once.
process.env.LORA_LAB_NATIVE = "0";

describe("wasm BatchMatMul without the native addon", () => {
  beforeAll(async () => {
    const { ready } = await import("../../src/engine/index.js");
    await ready({ backend: "wasm" });
  });

  it("reports why the native path is off", async () => {
    const { nativeBlasStatus, engineInfo } = await import("../../src/engine/index.js");
    expect(nativeBlasStatus()).toEqual({ loaded: false, reason: "disabled by LORA_LAB_NATIVE=0", fix: "unset LORA_LAB_NATIVE" });
    expect(engineInfo()?.nativeBlas?.loaded).toBe(false);
  });

  it("multiplies like the cpu backend for every transpose flag and batch shape", async () => {
    const { ready } = await import("../../src/engine/index.js");
    const shapes: Array<[number[], number[], boolean, boolean]> = [
      [[13, 9], [9, 11], false, false],
      [[9, 13], [9, 11], true, false],
      [[13, 9], [11, 9], false, true],
      [[9, 13], [11, 9], true, true],
      [[2, 6, 3], [2, 4, 3], false, true],
      [[2, 3, 6], [1, 3, 4], true, false],
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
          return Array.from(tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, ta, tb).dataSync());
        });
      await ready({ backend: "cpu" });
      const ref = product();
      await ready({ backend: "wasm" });
      product().forEach((v, i) => expect(v).toBeCloseTo(ref[i], 5));
    }
  });
});

describe("training without the native addon", () => {
  afterAll(async () => (await import("../../src/engine/index.js")).setWasmFastKernels(true));

  it("the JavaScript fused kernels give the unpatched backend's 50-step loss curve to 1e-4", async () => {
    const { ready } = await import("../../src/engine/index.js");
    const { trajectory } = await import("./trajectory_helper.js");
    await ready({ backend: "wasm" });
    const fast = trajectory(true, false);
    const stock = trajectory(false, false);
    expect(fast[49]).toBeLessThan(fast[0] - 1);
    fast.forEach((l, i) => expect(Math.abs(l - stock[i])).toBeLessThan(1e-4));
  });

  it("T5 (JavaScript RMS norm, composed attention) gives the unpatched backend's loss curve to 1e-4", async () => {
    const { ready, fusedAttention, fusedRmsNorm, setWasmFastKernels } = await import("../../src/engine/index.js");
    const { t5Trajectory } = await import("./trajectory_helper.js");
    await ready({ backend: "wasm" });
    setWasmFastKernels(true);
    tf.tidy(() => {
      expect(fusedAttention(tf.zeros([1, 2, 4]), tf.zeros([1, 2, 4]), tf.zeros([1, 2, 4]), 2)).toBeUndefined(); // needs the addon
      expect(fusedRmsNorm(tf.ones([2, 4]), tf.ones([4]), 1e-6)).toBeDefined(); // has a JavaScript loop
    });
    const fast = t5Trajectory(true);
    const stock = t5Trajectory(false);
    expect(fast[29]).toBeLessThan(fast[0] - 0.5);
    fast.forEach((l, i) => expect(Math.abs(l - stock[i])).toBeLessThan(1e-4));
  });
});
