import * as tf from "@tensorflow/tfjs";
import type { KernelConfig } from "@tensorflow/tfjs";
import { unsortedSegmentSumConfig } from "./unsorted_segment_sum.js";

/** Kernels that training this project's models needs and the wasm backend lacks. */
export const WASM_KERNELS: KernelConfig[] = [unsortedSegmentSumConfig];

/** Registers the missing wasm kernels once; kernels the backend gained since are left alone. */
export function registerWasmKernels(): string[] {
  const added: string[] = [];
  for (const config of WASM_KERNELS) {
    if (tf.getKernel(config.kernelName, "wasm") === undefined) {
      tf.registerKernel(config);
      added.push(config.kernelName);
    }
  }
  return added;
}
