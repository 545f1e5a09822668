import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs";
import type { NativeBlas } from "../native.js";
import { asWasm, heapOf, offsetOf, sizeOf } from "./wasm_backend.js";

/**
 * BatchMatMul on OpenBLAS for the wasm backend: operands are read and the product written in
 * place in the wasm heap, every transpose combination and batch (attention) on the BLAS path.
 * Batch shapes that broadcast other than "equal or one side 1" go to `fallback`.
 */
export function nativeMatMul(blas: NativeBlas, fallback: KernelFunc): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { inputs, attrs, backend } = args;
    const { a, b } = inputs as { a: TensorInfo; b: TensorInfo };
    const { transposeA, transposeB } = attrs as { transposeA: boolean; transposeB: boolean };
    if (a.dtype !== "float32" || b.dtype !== "float32" || a.shape.length < 2 || b.shape.length < 2) return fallback(args);
    const ra = a.shape.length;
    const rb = b.shape.length;
    const m = transposeA ? a.shape[ra - 1] : a.shape[ra - 2];
    const k = transposeA ? a.shape[ra - 2] : a.shape[ra - 1];
    const kb = transposeB ? b.shape[rb - 1] : b.shape[rb - 2];
    const n = transposeB ? b.shape[rb - 2] : b.shape[rb - 1];
    const batchShapeA = a.shape.slice(0, -2);
    const batchShapeB = b.shape.slice(0, -2);
    const batchA = sizeOf(batchShapeA);
    const batchB = sizeOf(batchShapeB);
    if (k !== kb) return fallback(args); // the backend's own kernel words the shape error
    const sameBatch = batchA === batchB && tf.util.arraysEqual(batchShapeA, batchShapeB);
    if (!sameBatch && batchA !== 1 && batchB !== 1) return fallback(args);
    const outBatch = tf.backend_util.assertAndGetBroadcastShape(batchShapeA, batchShapeB);
    const wasm = asWasm(backend);
    const out = wasm.makeOutput([...outBatch, m, n], "float32");
    const batch = Math.max(batchA, batchB);
    if (m * n * batch === 0) return out;
    blas.sgemm(
      heapOf(wasm),
      batch,
      m,
      n,
      k,
      offsetOf(wasm, a),
      batchA === 1 ? 0 : m * k,
      offsetOf(wasm, b),
      batchB === 1 ? 0 : k * n,
      offsetOf(wasm, out),
      transposeA,
      transposeB,
    );
    return out;
  };
  return { kernelName: tf.BatchMatMul, backendName: "wasm", kernelFunc };
}
