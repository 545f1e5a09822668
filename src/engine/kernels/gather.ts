import * as tf from "@tensorflow/tfjs";
import type { KernelConfig, KernelFunc, TensorInfo } from "@tensorflow/tfjs";
import { asWasm, heapOf, offsetOf } from "./wasm_backend.js";

/**
 * GatherV2 (embedding lookups: token and position rows) as one block copy per index inside the
 * wasm heap. The backend's own kernel computes every output element's source index separately:
 * 3.5 ms for the tiny GPT's [256, 128] table and 512 ids, against ~0.05 ms copying rows.
 * Batched gathers (batchDims > 0) and 8-byte or string dtypes go to `fallback`.
 */
export function rowGather(fallback: KernelFunc): KernelConfig {
  const kernelFunc: KernelFunc = (args) => {
    const { x, indices } = args.inputs as { x: TensorInfo; indices: TensorInfo };
    const { axis, batchDims } = args.attrs as { axis: number; batchDims: number };
    if ((batchDims ?? 0) !== 0 || (x.dtype !== "float32" && x.dtype !== "int32") || indices.dtype !== "int32") return fallback(args);
    const [ax] = tf.util.parseAxisParam(axis, x.shape);
    const outer = x.shape.slice(0, ax).reduce((p, q) => p * q, 1);
    const inner = x.shape.slice(ax + 1).reduce((p, q) => p * q, 1);
    const dim = x.shape[ax];
    const wasm = asWasm(args.backend);
    const ids = wasm.typedArrayFromHeap(indices) as Int32Array;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      if (!(id >= 0 && id < dim)) throw new Error(`GatherV2: the index value ${id} is not in [0, ${dim - 1}]`);
    }
    const out = wasm.makeOutput([...x.shape.slice(0, ax), ...indices.shape, ...x.shape.slice(ax + 1)], x.dtype);
    const count = ids.length;
    if (outer * count * inner === 0) return out;
    // Offsets after makeOutput: allocating may have grown (replaced) the heap.
    const heap = new Int32Array(heapOf(wasm)); // 4-byte words; float32 and int32 copy alike
    const src = offsetOf(wasm, x) / 4;
    const dst = offsetOf(wasm, out) / 4;
    const idsNow = new Int32Array(heap.buffer, offsetOf(wasm, indices), count);
    for (let o = 0; o < outer; o++) {
      const from = src + o * dim * inner;
      const to = dst + o * count * inner;
      for (let i = 0; i < count; i++) {
        const start = from + idsNow[i] * inner;
        heap.copyWithin(to + i * inner, start, start + inner);
      }
    }
    return out;
  };
  return { kernelName: tf.GatherV2, backendName: "wasm", kernelFunc };
}
