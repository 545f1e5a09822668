import * as tf from "@tensorflow/tfjs";
import type { KernelConfig } from "@tensorflow/tfjs";
import { unsortedSegmentSumConfig } from "./unsorted_segment_sum.js";
import { fastTransposedMatMul } from "./batch_mat_mul.js";

/** Kernels that training this project's models needs and the wasm backend lacks. */
export const WASM_KERNELS: KernelConfig[] = [unsortedSegmentSumConfig];

// The backend's own BatchMatMul, kept so the fast path can be switched off (benchmarks, debugging).
let originalMatMul: KernelConfig | undefined;
let fastMatMul: KernelConfig | undefined;

/**
 * Routes the wasm backend's transposed matrix products through an explicit transpose so they
 * stay on XNNPACK (true, the default after `ready()`), or back to the backend's own kernel.
 */
export function setWasmMatMulFastPath(enabled: boolean): void {
  const current = tf.getKernel(tf.BatchMatMul, "wasm");
  const transpose = tf.getKernel(tf.Transpose, "wasm");
  if (!current || !transpose) throw new Error("the wasm backend is not loaded: call ready({ backend: \"wasm\" }) first");
  if (!originalMatMul) {
    originalMatMul = current;
    fastMatMul = { ...fastTransposedMatMul(current.kernelFunc, transpose.kernelFunc), setupFunc: current.setupFunc };
  }
  const wanted = enabled ? fastMatMul! : originalMatMul;
  if (current.kernelFunc === wanted.kernelFunc) return;
  tf.unregisterKernel(tf.BatchMatMul, "wasm");
  tf.registerKernel(wanted);
}

/**
 * Registers the missing wasm kernels once (kernels the backend gained since are left alone) and
 * turns on the fast path for transposed products. Returns the kernels it added.
 */
export function registerWasmKernels(): string[] {
  const added: string[] = [];
  for (const config of WASM_KERNELS) {
    if (tf.getKernel(config.kernelName, "wasm") === undefined) {
      tf.registerKernel(config);
      added.push(config.kernelName);
    }
  }
  if (!originalMatMul) setWasmMatMulFastPath(true);
  return added;
}
