import type * as tf from "@tensorflow/tfjs";
import type { TensorInfo } from "@tensorflow/tfjs";

/** The parts of tfjs-backend-wasm's BackendWasm that lora-lab's kernels use. */
export interface WasmBackendLike {
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number; refCount: number; shape: number[]; dtype: tf.DataType } };
  wasm: { HEAPU8: Uint8Array };
  readSync(dataId: object): tf.backend_util.BackendValues;
  makeOutput(shape: number[], dtype: tf.DataType): TensorInfo;
  typedArrayFromHeap(info: TensorInfo): tf.backend_util.TypedArray;
  disposeData(dataId: object, force?: boolean): boolean;
}

export function asWasm(backend: unknown): WasmBackendLike {
  return backend as WasmBackendLike;
}

/** Float32 view of a float32 tensor's data in the heap (valid until the next allocation). */
export function f32(backend: WasmBackendLike, t: TensorInfo): Float32Array {
  return backend.typedArrayFromHeap(t) as Float32Array;
}

/** Byte offset of a tensor's data in the heap (for the native kernels). */
export function offsetOf(backend: WasmBackendLike, t: TensorInfo): number {
  return backend.dataIdMap.get(t.dataId).memoryOffset;
}

/** The heap itself (replaced when it grows: fetch it after allocating). */
export function heapOf(backend: WasmBackendLike): ArrayBuffer {
  return backend.wasm.HEAPU8.buffer as ArrayBuffer;
}
