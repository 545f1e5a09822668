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

export function sizeOf(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** A shape seen as rows of its last axis (the normalisations work row by row). */
export function rowsOf(shape: number[]): { rows: number; cols: number } {
  const cols = shape[shape.length - 1];
  return { rows: sizeOf(shape) / cols, cols };
}

/** Byte offsets of tensors in the heap, for the native kernels' arguments. */
export function offsets<T extends TensorInfo[]>(wasm: WasmBackendLike, ...tensors: T): { [K in keyof T]: number } {
  return tensors.map((t) => offsetOf(wasm, t)) as { [K in keyof T]: number };
}

/** Float32 views of tensors in the heap for the JavaScript kernels (take them after the last allocation). */
export function views<T extends TensorInfo[]>(wasm: WasmBackendLike, ...tensors: T): { [K in keyof T]: Float32Array } {
  return tensors.map((t) => f32(wasm, t)) as { [K in keyof T]: Float32Array };
}
