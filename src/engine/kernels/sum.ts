import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs";
import { asWasm, f32, heapOf, offsetOf, sizeOf } from "./wasm_backend.js";
import { nativeBlas } from "../native.js";

/**
 * Sum over leading axes (bias gradients: [N, C] -> [C]) without the transpose the wasm backend
 * makes first; other reductions go to `fallback`. Rows are added in order, as the reference does.
 */
export function leadingAxesSum(fallback: KernelFunc): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const x = (args.inputs as { x: TensorInfo }).x;
    const { axis, keepDims } = args.attrs as { axis: number | number[]; keepDims: boolean };
    const rank = x.shape.length;
    const axes = tf.util.parseAxisParam(axis, x.shape).sort((p, q) => p - q);
    const leading = axes.length > 0 && axes.length < rank && axes.every((a, i) => a === i);
    if (x.dtype !== "float32" || !leading) return fallback(args);
    const rest = x.shape.slice(axes.length);
    const cols = sizeOf(rest);
    const rows = sizeOf(x.shape.slice(0, axes.length));
    const wasm = asWasm(args.backend);
    const out = wasm.makeOutput(keepDims ? [...axes.map(() => 1), ...rest] : rest, "float32");
    const native = nativeBlas();
    if (native?.sumRows && rows * cols > 0) {
      native.sumRows(heapOf(wasm), rows, cols, offsetOf(wasm, x), offsetOf(wasm, out));
      return out;
    }
    const src = f32(wasm, x);
    const dst = f32(wasm, out);
    if (rows === 0) dst.fill(0);
    else dst.set(src.subarray(0, cols));
    for (let r = 1; r < rows; r++) {
      const base = r * cols;
      for (let c = 0; c < cols; c++) dst[c] += src[base + c];
    }
    return out;
  };
  return { kernelName: tf.Sum, backendName: "wasm", kernelFunc };
}
