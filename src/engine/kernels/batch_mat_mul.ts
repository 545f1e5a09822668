import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs";
import { asWasm } from "./wasm_backend.js";

/**
 * tfjs-backend-wasm runs BatchMatMul through XNNPACK only when neither input is transposed;
 * a transposed operand falls into a scalar loop 10-20x slower, and every backward pass of a
 * linear layer has one. Transposing the operand first (one fast copy) keeps the product on the
 * fast path. Wraps the backend's own kernel, which stays the one that multiplies.
 */
export function fastTransposedMatMul(original: KernelFunc, transpose: KernelFunc): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { inputs, attrs, backend } = args;
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    if (!transposeA && !transposeB) return original(args);
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const swapLast = (x: TensorInfo): TensorInfo => {
      const perm = x.shape.map((_, i) => i);
      [perm[perm.length - 2], perm[perm.length - 1]] = [perm[perm.length - 1], perm[perm.length - 2]];
      return transpose({ inputs: { x }, attrs: { perm }, backend }) as TensorInfo;
    };
    const a2 = transposeA ? swapLast(a) : a;
    const b2 = transposeB ? swapLast(b) : b;
    try {
      return original({ inputs: { a: a2, b: b2 }, attrs: { ...attrs, transposeA: false, transposeB: false }, backend });
    } finally {
      const wasm = asWasm(backend);
      if (a2 !== a) wasm.disposeData(a2.dataId);
      if (b2 !== b) wasm.disposeData(b2.dataId);
    }
  };
  return { kernelName: tf.BatchMatMul, backendName: "wasm", kernelFunc };
}
