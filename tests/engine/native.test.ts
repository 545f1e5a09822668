import * as tf from "@tensorflow/tfjs";
import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";

// The optional native matmul (N-API on OpenBLAS): built here into a temporary folder from
// src/engine/native/blas.c, loaded through LORA_LAB_NATIVE_PATH, and compared with the cpu backend.
const out = join(mkdtempSync(join(tmpdir(), "lora-lab-native-")), "lora_lab_blas.node");
let built = false;
let buildMessage = "";

beforeAll(() => {
  try {
    buildMessage = execFileSync(process.execPath, ["src/engine/native/build.mjs", "--strict", "--out", out], {
      encoding: "utf8",
      stdio: ["ignore", "pipe", "pipe"],
    });
    built = true;
  } catch (err) {
    buildMessage = String((err as { stderr?: string }).stderr ?? err);
  }
  process.env.LORA_LAB_NATIVE_PATH = out;
});

describe("native BLAS matmul", () => {
  it("ready() uses it when it builds, and otherwise says why and stays on wasm", async () => {
    const { ready, nativeBlasStatus } = await import("../../src/engine/index.js");
    const info = await ready({ backend: "wasm" });
    expect(info.backend).toBe("wasm");
    if (built) {
      expect(nativeBlasStatus()).toMatchObject({ loaded: true, path: out });
      expect(info.nativeBlas?.threads).toBeGreaterThan(0);
    } else {
      expect(buildMessage).toMatch(/not built: .*(compiler|OpenBLAS|node_api\.h)/);
      expect(nativeBlasStatus().loaded).toBe(false);
      expect(nativeBlasStatus().reason).toBeTruthy();
    }
  });

  it("multiplies like the cpu backend for every transpose flag, batched and broadcast operands", async () => {
    const { ready } = await import("../../src/engine/index.js");
    const shapes: Array<[number[], number[], boolean, boolean]> = [
      [[37, 19], [19, 23], false, false],
      [[19, 37], [19, 23], true, false],
      [[37, 19], [23, 19], false, true],
      [[19, 37], [23, 19], true, true],
      [[2, 3, 9, 8], [2, 3, 7, 8], false, true],
      [[6, 8, 9], [1, 8, 7], true, false],
      [[9, 8], [4, 8, 7], false, false],
      [[5, 0], [0, 4], false, false],
    ];
    for (const [sa, sb, ta, tb] of shapes) {
      const product = () =>
        tf.tidy(() => {
          const a = tf.tensor(
            Array.from({ length: sa.reduce((x, y) => x * y, 1) }, (_, i) => Math.cos(i * 0.3)),
            sa,
          );
          const b = tf.tensor(
            Array.from({ length: sb.reduce((x, y) => x * y, 1) }, (_, i) => Math.sin(i * 0.7)),
            sb,
          );
          const c = tf.matMul(a as tf.Tensor3D, b as tf.Tensor3D, ta, tb);
          return { shape: c.shape, data: Array.from(c.dataSync()) };
        });
      await ready({ backend: "cpu" });
      const ref = product();
      await ready({ backend: "wasm" });
      const got = product();
      expect(got.shape).toEqual(ref.shape);
      got.data.forEach((v, i) => expect(v).toBeCloseTo(ref.data[i], 4));
    }
  });
});

describe("native addon's N-API wrappers", () => {
  // Each wrapper only unpacks its arguments and checks them before its kernel touches memory.
  it("reject a wrong argument count, an operand outside the heap and a misaligned one, naming the call", async () => {
    if (!built) return;
    const { createRequire } = await import("node:module");
    const addon = createRequire(import.meta.url)(out) as Record<string, (...args: unknown[]) => unknown>;
    const heap = new ArrayBuffer(64); // 16 floats
    expect(() => addon.sgemm(heap, 1, 2)).toThrow(/sgemm expects 12 arguments, got 3/);
    expect(() => addon.gelu(new Float32Array(4), 4, 0, 16)).toThrow(/gelu: the first argument must be the heap's ArrayBuffer/);
    expect(() => addon.gelu(heap, 4, 0, 56)).toThrow(RangeError); // y would end at byte 72
    expect(() => addon.gelu(heap, 4, 2, 16)).toThrow(/operand outside the heap/); // not float-aligned
    expect(() => addon.sgemm(heap, 1, 4, 4, 4, 0, 0, 0, 0, 8, false, false)).toThrow(/sgemm: operand outside the heap/);
    const x = new Float32Array(heap, 0, 4);
    x.set([-1, 0, 1, 2]);
    addon.gelu(heap, 4, 0, 16); // in bounds: runs, y = gelu(x) at byte 16
    const y = Array.from(new Float32Array(heap, 16, 4));
    [-0.158808, 0, 0.841192, 1.954598].forEach((v, i) => expect(y[i]).toBeCloseTo(v, 5)); // 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))), computed in Python
  });
});

describe("native fused causal attention", () => {
  const B = 2,
    T = 7,
    H = 3,
    hs = 4,
    C = H * hs;
  const scale = 1 / Math.sqrt(hs);
  const qkvValues = Array.from({ length: B * T * 3 * C }, (_, i) => Math.sin(i * 0.37) * 2);
  const dyValues = Array.from({ length: B * T * C }, (_, i) => Math.cos(i * 0.11));

  /** GPT-2's attention composed from ops (split, heads, masked softmax, merge): the reference. */
  function composed(qkv: tf.Tensor): tf.Tensor {
    const [q, k, v] = tf.split(qkv, 3, -1).map((t) => t.reshape([B, T, H, hs]).transpose([0, 2, 1, 3]));
    const mask = tf.linalg
      .bandPart(tf.ones([T, T]), -1, 0)
      .sub(1)
      .mul(1e9);
    const att = tf.softmax(tf.matMul(q, k, false, true).mul(scale).add(mask), -1);
    return tf.matMul(att, v).transpose([0, 2, 1, 3]).reshape([B, T, C]);
  }

  function valueAndGrad(f: (x: tf.Tensor) => tf.Tensor): { y: number[]; g: number[] } {
    return tf.tidy(() => {
      const qkv = tf.tensor3d(qkvValues, [B, T, 3 * C]);
      const dy = tf.tensor3d(dyValues, [B, T, C]);
      const g = tf.grad((x: tf.Tensor) => f(x).mul(dy).sum())(qkv);
      return { y: Array.from(f(qkv).dataSync()), g: Array.from(g.dataSync()) };
    });
  }

  it("gives the value and the qkv gradient of the composed ops (cpu backend) when the addon is built", async () => {
    const { ready, fusedCausalAttention } = await import("../../src/engine/index.js");
    await ready({ backend: "cpu" });
    const ref = valueAndGrad(composed);
    expect(fusedCausalAttention(tf.zeros([B, T, 3 * C]), H, scale)).toBeUndefined(); // not on cpu
    await ready({ backend: "wasm" });
    const fused = fusedCausalAttention(tf.zeros([B, T, 3 * C]), H, scale);
    if (!built) {
      expect(fused).toBeUndefined();
      return;
    }
    expect(fused?.shape).toEqual([B, T, C]);
    const got = valueAndGrad((x) => fusedCausalAttention(x, H, scale)!);
    got.y.forEach((v, i) => expect(Math.abs(v - ref.y[i])).toBeLessThan(1e-5));
    got.g.forEach((v, i) => expect(Math.abs(v - ref.g[i])).toBeLessThan(1e-5));
    // A future position never influences an earlier one: changing the last token's k and v leaves y at t < T-1.
    const moved = tf.tidy(() => {
      const x = tf.buffer([B, T, 3 * C], "float32", Float32Array.from(qkvValues));
      for (let c = C; c < 3 * C; c++) x.set(9, 0, T - 1, c);
      return Array.from(fusedCausalAttention(x.toTensor(), H, scale)!.dataSync());
    });
    for (let t = 0; t < T - 1; t++) for (let c = 0; c < C; c++) expect(moved[t * C + c]).toBe(got.y[t * C + c]);
  });

  it("GPT-2 uses it only while no attention dropout is applied", async () => {
    const { ready } = await import("../../src/engine/index.js");
    const { GPT2Config, gpt2 } = await import("../../src/models/index.js");
    await ready({ backend: "wasm" });
    const model = gpt2(GPT2Config.preset("tiny", { vocabSize: 32, nPositions: 8, nEmbd: 16, nLayer: 1, nHead: 2, attnPdrop: 0.1 }));
    const ids = tf.tensor2d([[1, 2, 3, 4]], [1, 4], "int32");
    const kernels = async () => (await tf.profile(() => model.forward(ids))).kernelNames;
    model.train(true);
    expect(await kernels()).not.toContain("LoraLabCausalAttention");
    model.train(false);
    if (built) expect(await kernels()).toContain("LoraLabCausalAttention");
    else expect(await kernels()).not.toContain("LoraLabCausalAttention");
  });
});

describe("native fused attention with a bias (T5)", () => {
  const B = 2,
    Tq = 5,
    Tk = 6,
    H = 2,
    dk = 3,
    C = H * dk;
  const wave = (n: number, f: number, p = 0) => Array.from({ length: n }, (_, i) => Math.sin(i * f + p) * 1.5);

  /** Heads, scaled scores plus bias, softmax, merge: the composed reference. */
  function composed(q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, bias: tf.Tensor, scale: number, causal: boolean): tf.Tensor {
    const heads = (t: tf.Tensor, T: number) => t.reshape([B, T, H, dk]).transpose([0, 2, 1, 3]);
    let scores = tf.matMul(heads(q, Tq), heads(k, Tk), false, true).mul(scale).add(bias);
    if (causal)
      scores = scores.add(
        tf.linalg
          .bandPart(tf.ones([Tq, Tk]), -1, 0)
          .sub(1)
          .mul(1e9),
      );
    return tf.matMul(tf.softmax(scores, -1), heads(v, Tk)).transpose([0, 2, 1, 3]).reshape([B, Tq, C]);
  }

  function run(f: (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, bias: tf.Tensor) => tf.Tensor, biasShape: number[]): number[][] {
    return tf.tidy(() => {
      const q = tf.tensor3d(wave(B * Tq * C, 0.37), [B, Tq, C]);
      const k = tf.tensor3d(wave(B * Tk * C, 0.23, 1), [B, Tk, C]);
      const v = tf.tensor3d(wave(B * Tk * C, 0.41, 2), [B, Tk, C]);
      const bias = tf.tensor(
        wave(
          biasShape.reduce((a, b) => a * b, 1),
          0.7,
          3,
        ),
        biasShape,
      );
      const up = tf.tensor3d(wave(B * Tq * C, 0.13, 4), [B, Tq, C]);
      const grads = tf.grads((a: tf.Tensor, b: tf.Tensor, c: tf.Tensor, d: tf.Tensor) => f(a, b, c, d).mul(up).sum())([q, k, v, bias]);
      return [f(q, k, v, bias), ...grads].map((t) => Array.from(t.dataSync()));
    });
  }

  it("gives the value and the gradients of q, k, v and a broadcast bias of the composed ops (cpu backend)", async () => {
    const { ready, fusedAttention } = await import("../../src/engine/index.js");
    const cases: Array<{ biasShape: number[]; scale: number; causal: boolean; tq?: number }> = [
      { biasShape: [1, H, Tq, Tk], scale: 1, causal: false }, // T5 self-attention's position bias
      { biasShape: [B, 1, 1, Tk], scale: 1, causal: false }, // a padding mask
      { biasShape: [B, H, Tq, Tk], scale: 0.5, causal: false },
      { biasShape: [Tq, Tk], scale: 0.7, causal: true },
    ];
    for (const { biasShape, scale, causal } of cases) {
      await ready({ backend: "cpu" });
      const ref = run((q, k, v, bias) => composed(q, k, v, bias, scale, causal), biasShape);
      await ready({ backend: "wasm" });
      const fused = tf.tidy(
        () => fusedAttention(tf.zeros([B, Tq, C]), tf.zeros([B, Tk, C]), tf.zeros([B, Tk, C]), H, { bias: tf.zeros(biasShape) })?.shape,
      );
      if (!built) {
        expect(fused).toBeUndefined();
        continue;
      }
      expect(fused).toEqual([B, Tq, C]);
      const got = run((q, k, v, bias) => fusedAttention(q, k, v, H, { bias, scale, causal })!, biasShape);
      expect(got.map((g) => g.length)).toEqual(ref.map((r) => r.length));
      got.forEach((g, t) => g.forEach((x, i) => expect(Math.abs(x - ref[t][i]), `output ${t} of bias ${biasShape}`).toBeLessThan(2e-5)));
    }
  });

  it("two settings in one graph (scale, causal, bias shape) each reach their gradient through the kernel's attrs", async () => {
    const { ready, fusedAttention } = await import("../../src/engine/index.js");
    const twice =
      (att: (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, bias: tf.Tensor, scale: number, causal: boolean) => tf.Tensor) =>
      (q: tf.Tensor, k: tf.Tensor, v: tf.Tensor, bias: tf.Tensor) =>
        att(q, k, v, bias, 1, false).add(att(q, k, v, bias.sum(0, true), 0.5, true).mul(2));
    await ready({ backend: "cpu" });
    const ref = run(twice(composed), [B, H, Tq, Tk]);
    await ready({ backend: "wasm" });
    if (!built) return;
    const got = run(
      twice((q, k, v, bias, scale, causal) => fusedAttention(q, k, v, H, { bias, scale, causal })!),
      [B, H, Tq, Tk],
    );
    got.forEach((g, t) => g.forEach((x, i) => expect(Math.abs(x - ref[t][i]), `output ${t}`).toBeLessThan(5e-5)));
  });

  it("declines shapes it cannot take, so the caller composes the ops", async () => {
    const { ready, fusedAttention } = await import("../../src/engine/index.js");
    await ready({ backend: "wasm" });
    tf.tidy(() => {
      expect(fusedAttention(tf.zeros([B, Tq, C]), tf.zeros([B, Tk, C]), tf.zeros([B, Tk + 1, C]), H)).toBeUndefined(); // v != k
      expect(fusedAttention(tf.zeros([B, Tq, C]), tf.zeros([B, Tk, C]), tf.zeros([B, Tk, C]), 4)).toBeUndefined(); // 6 % 4
      expect(
        fusedAttention(tf.zeros([B, Tq, C]), tf.zeros([B, Tk, C]), tf.zeros([B, Tk, C]), H, { bias: tf.zeros([3, 1, Tq, Tk]) }),
      ).toBeUndefined();
    });
  });
});
