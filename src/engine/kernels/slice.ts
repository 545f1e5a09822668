import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs";
import { asWasm } from "./wasm_backend.js";

/**
 * Slice (and so SplitV, Unpack) reading the input through a view of the wasm heap. The
 * backend's own kernel first copies the whole input out of the heap (readSync) for every slice:
 * splitting attention's fused QKV made three full copies and megabytes of garbage per layer.
 */
export function viewSlice(fallback: KernelFunc): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const x = (args.inputs as { x: TensorInfo }).x;
    if (x.dtype === "string" || x.shape.length === 0) return fallback(args);
    const { begin, size } = args.attrs as { begin: number | number[]; size: number | number[] };
    const [b, s] = tf.slice_util.parseSliceParams(x, begin, size);
    const wasm = asWasm(args.backend);
    const out = wasm.makeOutput(s, x.dtype);
    const n = s.reduce((p, q) => p * q, 1);
    if (n === 0) return out;
    const src = wasm.typedArrayFromHeap(x);
    const dst = wasm.typedArrayFromHeap(out);
    const strides = tf.util.computeStrides(x.shape);
    const rank = x.shape.length;
    if (tf.slice_util.isSliceContinous(x.shape, b, s)) {
      const offset = tf.slice_util.computeFlatOffset(b, strides);
      dst.set(src.subarray(offset, offset + n));
      return out;
    }
    // Copy row by row along the last axis; an odometer walks the outer indices. 4-byte dtypes
    // copy within one view of the heap (no subarray object per row).
    const inner = s[rank - 1];
    const rows = n / inner;
    const idx = new Array<number>(Math.max(rank - 1, 0)).fill(0);
    const words = src.BYTES_PER_ELEMENT === 4 ? new Int32Array(src.buffer) : undefined;
    const srcWord = src.byteOffset / 4;
    const dstWord = dst.byteOffset / 4;
    for (let r = 0; r < rows; r++) {
      let offset = b[rank - 1];
      for (let d = 0; d < rank - 1; d++) offset += (b[d] + idx[d]) * strides[d];
      if (words) words.copyWithin(dstWord + r * inner, srcWord + offset, srcWord + offset + inner);
      else dst.set(src.subarray(offset, offset + inner), r * inner);
      for (let d = rank - 2; d >= 0; d--) {
        if (++idx[d] < s[d]) break;
        idx[d] = 0;
      }
    }
    return out;
  };
  return { kernelName: tf.Slice, backendName: "wasm", kernelFunc };
}

/** SplitV through the view-based slice above (the backend's SplitV calls its own Slice directly). */
export function viewSplitV(fallback: KernelFunc): KernelConfig {
  const slice = viewSlice(fallback).kernelFunc;
  const kernelFunc: KernelFunc = (args) => {
    const x = (args.inputs as { x: TensorInfo }).x;
    if (x.dtype === "string") return fallback(args);
    const { numOrSizeSplits, axis } = args.attrs as { numOrSizeSplits: number | number[]; axis: number | number[] };
    const ax = tf.util.parseAxisParam(axis, x.shape)[0];
    const sizes = tf.backend_util.prepareSplitSize(x as never, numOrSizeSplits, ax);
    const begin = new Array<number>(x.shape.length).fill(0);
    return sizes.map((s) => {
      const size = [...x.shape];
      size[ax] = s;
      const part = slice({ inputs: { x }, attrs: { begin: [...begin], size }, backend: args.backend }) as TensorInfo;
      begin[ax] += s;
      return part;
    });
  };
  return { kernelName: tf.SplitV, backendName: "wasm", kernelFunc };
}
