import * as tf from "@tensorflow/tfjs";
import type { KernelConfig } from "@tensorflow/tfjs";
import { unsortedSegmentSumConfig } from "./unsorted_segment_sum.js";
import { fastTransposedMatMul } from "./batch_mat_mul.js";

const WRAPPED = Symbol.for("lora-lab.wrapped-kernel");

/** Kernels that training this project's models needs and the wasm backend lacks. */
export const WASM_KERNELS: KernelConfig[] = [unsortedSegmentSumConfig];

/**
 * Registers the missing wasm kernels once (kernels the backend gained since are left alone) and
 * wraps BatchMatMul so transposed products stay on XNNPACK's fast path. Returns what changed.
 */
export function registerWasmKernels(): string[] {
  const added: string[] = [];
  for (const config of WASM_KERNELS) {
    if (tf.getKernel(config.kernelName, "wasm") === undefined) {
      tf.registerKernel(config);
      added.push(config.kernelName);
    }
  }
  const matMul = tf.getKernel(tf.BatchMatMul, "wasm");
  const transpose = tf.getKernel(tf.Transpose, "wasm");
  if (matMul && transpose && !(matMul as unknown as Record<symbol, boolean>)[WRAPPED]) {
    const wrapped = { ...fastTransposedMatMul(matMul.kernelFunc, transpose.kernelFunc), setupFunc: matMul.setupFunc };
    (wrapped as unknown as Record<symbol, boolean>)[WRAPPED] = true;
    tf.unregisterKernel(tf.BatchMatMul, "wasm");
    tf.registerKernel(wrapped);
    added.push(`${tf.BatchMatMul} (transposes moved out of the product)`);
  }
  return added;
}
