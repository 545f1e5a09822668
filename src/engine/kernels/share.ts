import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs";
import { asWasm } from "./wasm_backend.js";

/**
 * Identity without a copy. The wasm backend's Identity copies the whole tensor (training steps
 * make hundreds of them: gradients passed through, clones); tensors never change in place, so the
 * output can share the input's buffer under one more reference, as the cpu backend does.
 */
export function sharedIdentity(fallback: KernelFunc): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const x = (args.inputs as { x: TensorInfo }).x;
    if (x.dtype === "string") return fallback(args);
    asWasm(args.backend).dataIdMap.get(x.dataId).refCount++;
    return { dataId: x.dataId, shape: [...x.shape], dtype: x.dtype };
  };
  return { kernelName: tf.Identity, backendName: "wasm", kernelFunc };
}

/** Cast to the dtype a tensor already has: shared like Identity instead of copied. */
export function sharedCast(fallback: KernelFunc): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const x = (args.inputs as { x: TensorInfo }).x;
    const dtype = (args.attrs as { dtype: tf.DataType }).dtype;
    if (x.dtype !== dtype || dtype === "string") return fallback(args);
    asWasm(args.backend).dataIdMap.get(x.dataId).refCount++;
    return { dataId: x.dataId, shape: [...x.shape], dtype };
  };
  return { kernelName: tf.Cast, backendName: "wasm", kernelFunc };
}
