import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc } from "@tensorflow/tfjs";
import { unsortedSegmentSumConfig } from "./unsorted_segment_sum.js";
import { fastTransposedMatMul } from "./batch_mat_mul.js";
import { nativeMatMul } from "./native_mat_mul.js";
import { sharedCast, sharedIdentity } from "./share.js";
import { leadingAxesSum } from "./sum.js";
import { viewSlice, viewSplitV } from "./slice.js";
import { rowGather } from "./gather.js";
import { nativeBlas } from "../native.js";
import type { FusedKernel } from "./fused.js";
import { fusedAdamWKernel } from "./adamw.js";
import { layerNormKernels } from "./layer_norm.js";
import { crossEntropyKernels } from "./cross_entropy.js";
import { geluKernels } from "./gelu.js";
import { attentionKernels } from "./attention.js";
import { rmsNormKernels } from "./rms_norm.js";

/** Kernels that training this project's models needs and the wasm backend lacks. */
export const WASM_KERNELS: KernelConfig[] = [unsortedSegmentSumConfig];

/**
 * Faster stand-ins for wasm kernels, each built around the backend's own kernel (kept as the
 * fallback and restored when the stand-ins are switched off).
 */
const REPLACEMENTS: Array<{ name: string; make: (original: KernelFunc) => KernelConfig }> = [
  {
    name: tf.BatchMatMul,
    make: (original) => {
      const blas = nativeBlas();
      const viaXnn = fastTransposedMatMul(original, tf.getKernel(tf.Transpose, "wasm")!.kernelFunc);
      return blas ? nativeMatMul(blas, viaXnn.kernelFunc) : viaXnn;
    },
  },
  { name: tf.Identity, make: sharedIdentity },
  { name: tf.Cast, make: sharedCast },
  { name: tf.Sum, make: leadingAxesSum },
  { name: tf.Slice, make: viewSlice },
  { name: tf.SplitV, make: viewSplitV },
  { name: tf.GatherV2, make: rowGather },
];

/**
 * lora-lab's own fused kernels (no tfjs counterpart): registered while the fast kernels are on.
 * Their gradients are registered once and stay (tfjs keeps gradients by kernel name for every
 * backend; without the kernel nothing reaches them).
 */
const FUSED: FusedKernel[] = [
  fusedAdamWKernel,
  ...layerNormKernels,
  ...crossEntropyKernels,
  ...geluKernels,
  ...attentionKernels,
  ...rmsNormKernels,
];

const originals = new Map<string, KernelConfig>();
const replaced = new Map<string, KernelConfig>();
let enabled = new Set<string>();

function swap(name: string, wanted: KernelConfig): void {
  const current = tf.getKernel(name, "wasm");
  if (current?.kernelFunc === wanted.kernelFunc) return;
  if (current) tf.unregisterKernel(name, "wasm");
  tf.registerKernel(wanted);
}

function prepare(): void {
  if (!tf.getKernel(tf.BatchMatMul, "wasm")) {
    throw new Error('the wasm backend is not loaded: call ready({ backend: "wasm" }) first');
  }
  for (const { name, make } of REPLACEMENTS) {
    if (originals.has(name)) continue;
    const original = tf.getKernel(name, "wasm")!;
    originals.set(name, original);
    // setupFunc stays the original's: the fallback path needs its wasm functions bound.
    replaced.set(name, { ...make(original.kernelFunc), setupFunc: original.setupFunc });
  }
}

/**
 * Switches lora-lab's faster wasm kernels on (the default after `ready()`) or back to
 * tfjs-backend-wasm's own, for comparisons and debugging. `only` limits the change to some kernel
 * names (e.g. ["BatchMatMul"]); the others keep their state.
 */
export function setWasmFastKernels(on: boolean, only?: string[]): void {
  prepare();
  for (const { name } of REPLACEMENTS) {
    if (only && !only.includes(name)) continue;
    swap(name, on ? replaced.get(name)! : originals.get(name)!);
    if (on) enabled.add(name);
    else enabled.delete(name);
  }
  for (const { kernel, gradient } of FUSED) {
    if (only && !only.includes(kernel.kernelName)) continue;
    const present = tf.getKernel(kernel.kernelName, "wasm") !== undefined;
    if (on && !present) tf.registerKernel(kernel);
    if (on && gradient && tf.getGradient(gradient.kernelName) !== gradient) tf.registerGradient(gradient);
    if (!on && present) tf.unregisterKernel(kernel.kernelName, "wasm");
    if (on) enabled.add(kernel.kernelName);
    else enabled.delete(kernel.kernelName);
  }
}

/** Names of the wasm kernels currently replaced by lora-lab's. */
export function wasmFastKernels(): string[] {
  return [...enabled];
}

/**
 * Routes the wasm backend's matrix products through lora-lab's kernel (native BLAS when built,
 * otherwise transposes moved out so XNNPACK's fast path is used), or back to the backend's own.
 */
export function setWasmMatMulFastPath(on: boolean): void {
  setWasmFastKernels(on, [tf.BatchMatMul]);
}

/**
 * Registers the missing wasm kernels once (kernels the backend gained since are left alone) and
 * turns on the faster replacements. Returns the kernels it added.
 */
export function registerWasmKernels(): string[] {
  const added: string[] = [];
  for (const config of WASM_KERNELS) {
    if (tf.getKernel(config.kernelName, "wasm") === undefined) {
      tf.registerKernel(config);
      added.push(config.kernelName);
    }
  }
  if (originals.size === 0) setWasmFastKernels(true);
  return added;
}
