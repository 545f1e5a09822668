import * as tf from "@tensorflow/tfjs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  ready,
  setWasmFastKernels,
  wasmFastKernels,
  fusedLayerNorm,
  fusedCrossEntropy,
  fusedGeluNew,
  fusedRmsNorm,
} from "../../src/engine/index.js";
import { rmsNorm } from "../../src/nn/index.js";
import { crossEntropy, geluNew, layerNorm } from "../../src/nn/functional.js";
import { AdamW } from "../../src/optim/index.js";
import { Parameter } from "../../src/nn/index.js";

// Each of lora-lab's wasm kernels against a reference: the unpatched wasm backend (lora-lab's
// kernels switched off) or tfjs's cpu backend.

const values = (n: number, f = 1, phase = 0) => Array.from({ length: n }, (_, i) => Math.sin(i * 0.37 * f + phase) * 2);

function maxDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
}

/** fn under lora-lab's kernels and under the backend's own; returns both results as flat arrays. */
function fastAndStock(fn: () => tf.Tensor[]): { fast: Float32Array[]; stock: Float32Array[] } {
  const run = () => {
    const out = tf.tidy(fn);
    const data = out.map((t) => t.dataSync() as Float32Array);
    tf.dispose(out);
    return data;
  };
  setWasmFastKernels(true);
  const fast = run();
  setWasmFastKernels(false);
  try {
    return { fast, stock: run() };
  } finally {
    setWasmFastKernels(true);
  }
}

beforeAll(async () => {
  await ready({ backend: "wasm" });
});
afterAll(() => setWasmFastKernels(true));

describe("setWasmFastKernels", () => {
  it("switches lora-lab's kernels off and back on", () => {
    setWasmFastKernels(false);
    expect(wasmFastKernels()).toEqual([]);
    expect(tf.getKernel("LoraLabLayerNorm", "wasm")).toBeUndefined();
    setWasmFastKernels(true);
    expect(wasmFastKernels()).toEqual(
      expect.arrayContaining([
        "BatchMatMul",
        "Sum",
        "Slice",
        "SplitV",
        "GatherV2",
        "Identity",
        "Cast",
        "LoraLabAdamW",
        "LoraLabLayerNorm",
        "LoraLabCrossEntropy",
        "LoraLabGeluNew",
        "LoraLabCausalAttention",
      ]),
    );
    expect(tf.getKernel("LoraLabLayerNorm", "wasm")).toBeDefined();
  });

  it("leaves other backends on the composed ops (the fused helpers answer undefined)", async () => {
    await ready({ backend: "cpu" });
    try {
      const x = tf.ones([2, 4]);
      expect(fusedLayerNorm(x, tf.ones([4]), tf.zeros([4]), 1e-5)).toBeUndefined();
      expect(fusedGeluNew(x)).toBeUndefined();
      expect(fusedCrossEntropy(x, tf.tensor1d([0, 1], "int32"))).toBeUndefined();
    } finally {
      await ready({ backend: "wasm" });
    }
  });
});

describe("fused kernels in tfjs's registries", () => {
  it("each forward kernel has a registered gradient that saves what its gradient kernel reads", () => {
    const saves = (name: string) => {
      const g = tf.getGradient(name);
      return g && { inputs: g.inputsToSave, outputs: g.outputsToSave };
    };
    expect(saves("LoraLabLayerNorm")).toEqual({ inputs: ["x", "weight"], outputs: [false, true, true] });
    expect(saves("LoraLabRmsNorm")).toEqual({ inputs: ["x", "weight"], outputs: [false, true] });
    expect(saves("LoraLabGeluNew")).toEqual({ inputs: ["x"], outputs: undefined });
    expect(saves("LoraLabCrossEntropy")).toEqual({ inputs: ["targets"], outputs: [false, true] });
    expect(saves("LoraLabCausalAttention")).toEqual({ inputs: ["qkv"], outputs: [false, true] });
    expect(saves("LoraLabAttention")).toEqual({ inputs: ["q", "k", "v"], outputs: [false, true] });
  });

  it("two eps values in one graph: each forward reads its own from the attrs, the gradient matches the composed ops", () => {
    // One registered gradient serves every eps: a mix-up between settings would show here.
    const { fast, stock } = fastAndStock(() => {
      const x = tf.tensor(values(4 * 16, 0.05), [4, 16]); // small values: eps matters
      const w = tf.tensor1d(values(16, 0.3, 1));
      const f = (xx: tf.Tensor) =>
        rmsNorm(xx, w, 1e-2)
          .mul(rmsNorm(xx, w, 1e-6))
          .sum();
      return [tf.grad(f)(x)];
    });
    expect(maxDiff(fast[0], stock[0])).toBeLessThan(2e-4);
  });

  it("leave no tensors behind outside a tidy, with the tape recording or not", () => {
    const x = tf.tensor(values(3 * 8), [3, 8]);
    const w = tf.ones([8]);
    const b = tf.zeros([8]);
    const before = tf.memory().numTensors;
    fusedRmsNorm(x, w, 1e-6)!.dispose();
    fusedLayerNorm(x, w, b, 1e-5)!.dispose();
    fusedGeluNew(x)!.dispose();
    expect(tf.memory().numTensors).toBe(before);
    const g = tf.grads((xx: tf.Tensor, ww: tf.Tensor) => fusedRmsNorm(fusedLayerNorm(xx, ww, b, 1e-5)!, ww, 1e-6)!.sum())([x, w]);
    expect(tf.memory().numTensors).toBe(before + 2);
    tf.dispose([...g, x, w, b]);
  });
});

describe("wasm Sum over leading axes", () => {
  it("equals the backend's own Sum for leading, trailing and mixed axes, with and without keepDims", () => {
    const cases: Array<[number[], number | number[], boolean]> = [
      [[64, 48], 0, false],
      [[4, 16, 24], [0, 1], false],
      [[4, 16, 24], [0, 1], true],
      [[4, 16, 24], [1, 0], false],
      [[4, 16, 24], 2, false],
      [[4, 16, 24], [0, 2], false],
      [[4, 16, 24], [0, 1, 2], false],
      [[1, 5], 0, true],
    ];
    for (const [shape, axis, keepDims] of cases) {
      const { fast, stock } = fastAndStock(() => {
        const s = tf.tensor(values(shape.reduce((a, b) => a * b)), shape).sum(axis, keepDims);
        return [s, tf.tensor1d(s.shape.length ? s.shape : [0])];
      });
      expect(fast[1]).toEqual(stock[1]); // shape
      expect(maxDiff(fast[0], stock[0])).toBeLessThan(1e-4);
    }
  });
});

describe("wasm Identity and Cast without copies", () => {
  it("a clone shares the buffer, survives the original's dispose and frees it last", () => {
    const buffers = () => (tf.backend() as unknown as { numDataIds(): number }).numDataIds();
    const before = buffers();
    const x = tf.tensor1d([1, 2, 3]);
    const y = x.clone();
    const z = tf.cast(x, "float32");
    expect(buffers()).toBe(before + 1);
    x.dispose();
    expect(Array.from(y.dataSync())).toEqual([1, 2, 3]);
    y.dispose();
    expect(Array.from(z.dataSync())).toEqual([1, 2, 3]);
    z.dispose();
    expect(buffers()).toBe(before);
  });

  it("still converts when the dtype changes", () => {
    const { fast, stock } = fastAndStock(() => [tf.cast(tf.tensor1d([1.7, -2.2, 3.5]), "int32").toFloat()]);
    expect(Array.from(fast[0])).toEqual(Array.from(stock[0]));
    expect(Array.from(fast[0])).toEqual([1, -2, 3]);
  });
});

describe("wasm Slice and SplitV through heap views", () => {
  it("equal the backend's own for contiguous and strided slices of rank 1 to 5", () => {
    const cases: Array<[number[], number[], number[]]> = [
      [[10], [3], [4]],
      [
        [6, 8],
        [2, 0],
        [3, 8],
      ],
      [
        [6, 8],
        [1, 2],
        [4, 5],
      ],
      [
        [3, 4, 5],
        [1, 1, 1],
        [2, 2, 3],
      ],
      [
        [2, 3, 4, 5],
        [0, 1, 2, 1],
        [2, 2, 2, 4],
      ],
      [
        [2, 2, 3, 2, 3],
        [1, 0, 1, 0, 1],
        [1, 2, 2, 2, 2],
      ],
    ];
    for (const [shape, begin, size] of cases) {
      const { fast, stock } = fastAndStock(() => [tf.slice(tf.tensor(values(shape.reduce((a, b) => a * b)), shape), begin, size)]);
      expect(Array.from(fast[0])).toEqual(Array.from(stock[0]));
    }
  });

  it("tf.split of attention's fused QKV equals the backend's own, part by part", () => {
    const { fast, stock } = fastAndStock(() => tf.split(tf.tensor(values(2 * 5 * 12), [2, 5, 12]), [4, 4, 4], -1));
    expect(fast.length).toBe(3);
    fast.forEach((part, i) => expect(Array.from(part)).toEqual(Array.from(stock[i])));
  });
});

describe("wasm GatherV2 by row copies", () => {
  it("equals the backend's own on axis 0 and 1, float32 and int32 tables, repeated ids", () => {
    const cases: Array<[number[], number[], number[], number]> = [
      [[10, 6], [3, 0, 9, 3], [4], 0],
      [[10, 6], [1, 1, 2, 0, 9, 4], [2, 3], 0],
      [[4, 5, 3], [4, 0, 2], [3], 1],
      [[7], [6, 0], [2], 0],
    ];
    for (const [shape, ids, idShape, axis] of cases) {
      for (const dtype of ["float32", "int32"] as const) {
        const { fast, stock } = fastAndStock(() => {
          const x = tf.tensor(
            values(shape.reduce((a, b) => a * b)).map((v) => Math.round(v * 10)),
            shape,
            dtype,
          );
          const out = tf.gather(x, tf.tensor(ids, idShape, "int32"), axis);
          return [out.toFloat(), tf.tensor1d(out.shape)];
        });
        expect(fast[1]).toEqual(stock[1]);
        expect(Array.from(fast[0])).toEqual(Array.from(stock[0]));
      }
    }
  });

  it("names an index outside the table, as the backend's own does", () => {
    const x = tf.ones([4, 2]);
    expect(() => tf.gather(x, tf.tensor1d([1, 4], "int32"))).toThrow(/index value 4 is not in \[0, 3\]/);
    expect(() => tf.gather(x, tf.tensor1d([-1], "int32"))).toThrow(/index value -1/);
    x.dispose();
  });
});

describe("fused RMS norm (T5)", () => {
  it("gives the value and the gradients of x and weight of the composed RMS norm", () => {
    const { fast, stock } = fastAndStock(() => {
      const x = tf.tensor(values(3 * 7 * 32), [3, 7, 32]);
      const w = tf.tensor1d(values(32, 0.3, 1));
      const up = tf.tensor(values(3 * 7 * 32, 1.3, 0.5), [3, 7, 32]);
      const f = (xx: tf.Tensor, ww: tf.Tensor) => rmsNorm(xx, ww, 1e-6).mul(up).sum();
      return [rmsNorm(x, w, 1e-6), ...tf.grads(f)([x, w])];
    });
    expect(fast.length).toBe(3);
    fast.forEach((f, i) => expect(maxDiff(f, stock[i])).toBeLessThan(2e-5));
  });

  it("is used on wasm and composes from ops elsewhere", async () => {
    expect(fusedRmsNorm(tf.ones([2, 4]), tf.ones([4]), 1e-6)).toBeDefined();
    expect(fusedRmsNorm(tf.ones([2, 4]), tf.ones([3]), 1e-6)).toBeUndefined(); // weight does not fit
    await ready({ backend: "cpu" });
    try {
      expect(fusedRmsNorm(tf.ones([2, 4]), tf.ones([4]), 1e-6)).toBeUndefined();
    } finally {
      await ready({ backend: "wasm" });
    }
  });
});

describe("fused LayerNorm", () => {
  it("gives the value and the gradients of x, weight and bias of the composed LayerNorm", () => {
    const { fast, stock } = fastAndStock(() => {
      const x = tf.tensor(values(3 * 7 * 32), [3, 7, 32]);
      const w = tf.tensor1d(values(32, 0.3, 1));
      const b = tf.tensor1d(values(32, 0.7, 2));
      const up = tf.tensor(values(3 * 7 * 32, 1.3, 0.5), [3, 7, 32]); // a non-uniform upstream gradient
      const f = (xx: tf.Tensor, ww: tf.Tensor, bb: tf.Tensor) => layerNorm(xx, ww, bb, 1e-5).mul(up).sum();
      const grads = tf.grads(f)([x, w, b]);
      return [layerNorm(x, w, b, 1e-5), ...grads];
    });
    fast.forEach((f, i) => expect(maxDiff(f, stock[i])).toBeLessThan(2e-5));
  });
});

describe("fused cross-entropy", () => {
  it("gives the loss and logit gradient of the composed one, ignored (-100) targets and an underflowing probability included", () => {
    const V = 50;
    const N = 12;
    const logitValues = values(N * V, 1.1);
    for (let c = 0; c < V; c++) logitValues[5 * V + c] = c === 7 ? 200 : -200; // row 5: p(target) underflows float32
    const targets = Array.from({ length: N }, (_, i) => (i === 3 || i === 9 ? -100 : (i * 13) % V));
    const { fast, stock } = fastAndStock(() => {
      const logits = tf.tensor(logitValues, [3, 4, V]);
      const t = tf.tensor(targets, [3, 4], "int32");
      const g = tf.grad((x: tf.Tensor) => crossEntropy(x, t))(logits);
      return [crossEntropy(logits, t), g];
    });
    expect(Math.abs(fast[0][0] - stock[0][0])).toBeLessThan(1e-4);
    expect(fast[0][0]).toBeGreaterThan(30); // row 5's -log p is about 400 / 10 kept rows
    expect(maxDiff(fast[1], stock[1])).toBeLessThan(1e-6);
  });
});

describe("fused GELU (tanh form)", () => {
  it("gives the value and gradient of the composed gelu_new", () => {
    const { fast, stock } = fastAndStock(() => {
      const x = tf.tensor(
        values(4 * 300, 0.9).map((v) => v * 2.5),
        [4, 300],
      );
      return [geluNew(x), tf.grad((t: tf.Tensor) => geluNew(t).mul(t).sum())(x)];
    });
    expect(maxDiff(fast[0], stock[0])).toBeLessThan(1e-5);
    expect(maxDiff(fast[1], stock[1])).toBeLessThan(1e-4);
  });
});

describe("fused AdamW", () => {
  it("updates parameters, moments and update norms as the op-by-op AdamW over 5 steps", () => {
    const run = () => {
      const params = new Map([
        ["w", new Parameter(tf.tensor(values(40 * 30), [40, 30]), true, "w")],
        ["bias", new Parameter(tf.tensor1d(values(30, 2)), true, "bias")],
      ]);
      const opt = new AdamW(params, { lr: 3e-2, weightDecay: 0.1 });
      const norms: number[] = [];
      for (let s = 0; s < 5; s++) {
        const grads = new Map([
          ["w", tf.tensor(values(40 * 30, 1 + s, s), [40, 30])],
          ["bias", tf.tensor1d(values(30, 3 + s, s))],
        ]);
        const n = opt.step(grads, { lrScale: 1 - s * 0.1, updateNorms: true })!;
        norms.push(n.get("w")!, n.get("bias")!);
        tf.dispose([...grads.values()]);
      }
      const out = [...params.values()].map((p) => p.variable.dataSync() as Float32Array);
      const state = Object.values(opt.stateTensors()).map((t) => t.dataSync() as Float32Array);
      opt.dispose();
      params.forEach((p) => p.dispose());
      return [...out, ...state, Float32Array.from(norms)];
    };
    setWasmFastKernels(true);
    const fast = run();
    setWasmFastKernels(false);
    const stock = run();
    setWasmFastKernels(true);
    // float32 rounding of a different evaluation order: relative to each tensor's scale
    fast.forEach((f, i) => expect(maxDiff(f, stock[i]) / Math.max(...Array.from(stock[i], Math.abs))).toBeLessThan(1e-5));
  });
});
