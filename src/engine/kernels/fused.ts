import * as tf from "@tensorflow/tfjs";
import type { GradConfig, KernelConfig, KernelFunc, NamedAttrMap } from "@tensorflow/tfjs";

/**
 * The plumbing every lora-lab fused kernel shares, in tfjs's kernel-registry idiom: a forward
 * kernel whose attrs carry its settings (eps, heads, scale, bias shape), and a gradient registered
 * by kernel name that reads the same attrs and the tensors the tape saved for it (`inputsToSave`,
 * `outputsToSave`). No per-setting closures, no casts at the call sites.
 */

/** A kernel of lora-lab's own (no tfjs counterpart) on the wasm backend, with the gradient the tape uses for it. */
export interface FusedKernel {
  kernel: KernelConfig;
  gradient?: GradConfig;
}

export function wasmKernel(kernelName: string, kernelFunc: KernelFunc): KernelConfig {
  return { kernelName, backendName: "wasm", kernelFunc };
}

/**
 * A gradient config for `kernelName`. `grad` gets one upstream gradient per output (tfjs fills
 * zeros for outputs nothing used), the saved tensors (the inputs named in `save.inputs`, then the
 * outputs flagged in `save.outputs`) and the forward kernel's attrs; it returns the gradient of
 * each input by name. They are computed at once, not in tfjs's lazy thunks: one gradient kernel
 * gives them all, and backprop frees the ones it does not take when its scope ends.
 */
export function fusedGradient<A extends NamedAttrMap>(
  kernelName: string,
  save: { inputs?: string[]; outputs?: boolean[] },
  grad: (dys: tf.Tensor[], saved: tf.Tensor[], attrs: A) => Record<string, tf.Tensor>,
): GradConfig {
  return {
    kernelName,
    inputsToSave: save.inputs,
    outputsToSave: save.outputs,
    gradFunc: (dy, saved, attrs) => {
      const grads = grad(Array.isArray(dy) ? dy : [dy], saved, attrs as A);
      return Object.fromEntries(Object.entries(grads).map(([name, g]) => [name, () => g]));
    },
  };
}

/** Runs a fused kernel through the engine (so the tape records it with its gradient); every output. */
export function runFused<A extends NamedAttrMap>(kernelName: string, inputs: tf.NamedTensorMap, attrs: A): tf.Tensor[] {
  const out = tf.engine().runKernel(kernelName, inputs, attrs);
  return Array.isArray(out) ? out : [out as tf.Tensor];
}

/**
 * The first output of a fused kernel. The others exist for the gradient: the tape keeps its own
 * copies when it records, so these are freed here (callers need not be inside a tidy).
 */
export function runFusedValue<A extends NamedAttrMap>(kernelName: string, inputs: tf.NamedTensorMap, attrs: A): tf.Tensor {
  const [value, ...forGradient] = runFused(kernelName, inputs, attrs);
  tf.dispose(forGradient);
  return value;
}

/** Whether the current backend has the kernel (wasm with lora-lab's kernels on). */
export function hasKernel(kernelName: string): boolean {
  return tf.getKernel(kernelName, tf.getBackend()) !== undefined;
}
