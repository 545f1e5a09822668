/** Safetensors element types, the typed arrays that hold them, and the library's error type. */

export type SafetensorsDtype = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U64" | "U32" | "U16" | "U8" | "BOOL";

export type TensorData =
  | Float64Array
  | Float32Array
  | Int32Array
  | Int16Array
  | Int8Array
  | Uint32Array
  | Uint16Array
  | Uint8Array
  | BigInt64Array
  | BigUint64Array;

/** F16 and BF16 hold raw Uint16 bit patterns, BOOL holds 0/1 bytes, I64/U64 hold bigints. */
export interface SafeTensor {
  dtype: SafetensorsDtype;
  shape: number[];
  data: TensorData;
}

export const DTYPE_BYTES: Record<SafetensorsDtype, number> = {
  F64: 8,
  F32: 4,
  F16: 2,
  BF16: 2,
  I64: 8,
  I32: 4,
  I16: 2,
  I8: 1,
  U64: 8,
  U32: 4,
  U16: 2,
  U8: 1,
  BOOL: 1,
};

export const SAFETENSORS_DTYPES = Object.keys(DTYPE_BYTES) as SafetensorsDtype[];

/** Dtypes the Rust crate knows but lora-lab does not hold, so the error can say "unsupported", not "unknown". */
export const CRATE_ONLY_DTYPES = ["F4", "F6_E2M3", "F6_E3M2", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "C64"];

/**
 * Rank in the crate's `Dtype` enum, which is declared in increasing alignment; the writer sorts by it
 * descending so every tensor starts aligned to its element size.
 */
export const DTYPE_ALIGNMENT_RANK: Record<SafetensorsDtype, number> = {
  BOOL: 0,
  U8: 1,
  I8: 2,
  I16: 3,
  U16: 4,
  F16: 5,
  BF16: 6,
  I32: 7,
  U32: 8,
  F32: 9,
  F64: 10,
  I64: 11,
  U64: 12,
};

/** Typed-array class name per dtype, compared by toStringTag so arrays from another realm still pass. */
export const DTYPE_ARRAY: Record<SafetensorsDtype, string> = {
  F64: "Float64Array",
  F32: "Float32Array",
  F16: "Uint16Array",
  BF16: "Uint16Array",
  I64: "BigInt64Array",
  I32: "Int32Array",
  I16: "Int16Array",
  I8: "Int8Array",
  U64: "BigUint64Array",
  U32: "Uint32Array",
  U16: "Uint16Array",
  U8: "Uint8Array",
  BOOL: "Uint8Array",
};

export function isDtype(value: unknown): value is SafetensorsDtype {
  return typeof value === "string" && Object.prototype.hasOwnProperty.call(DTYPE_BYTES, value);
}

/** A fresh, aligned copy of `bytes` as the typed array for `dtype`. */
export function typedArrayFromBytes(dtype: SafetensorsDtype, bytes: Uint8Array): TensorData {
  // Not bytes.slice(): on a Node Buffer that returns a view into the (shared, unaligned) pool.
  const copy = new Uint8Array(bytes).buffer;
  switch (dtype) {
    case "F64":
      return new Float64Array(copy);
    case "F32":
      return new Float32Array(copy);
    case "F16":
    case "BF16":
    case "U16":
      return new Uint16Array(copy);
    case "I64":
      return new BigInt64Array(copy);
    case "I32":
      return new Int32Array(copy);
    case "I16":
      return new Int16Array(copy);
    case "I8":
      return new Int8Array(copy);
    case "U64":
      return new BigUint64Array(copy);
    case "U32":
      return new Uint32Array(copy);
    case "U8":
    case "BOOL":
      return new Uint8Array(copy);
  }
}

export function typedArrayName(value: unknown): string {
  if (ArrayBuffer.isView(value)) return (value as unknown as { [Symbol.toStringTag]: string })[Symbol.toStringTag];
  if (value === null) return "null";
  return Array.isArray(value) ? "Array" : typeof value;
}

export type SafetensorsErrorCode =
  | "HEADER_TOO_SMALL"
  | "HEADER_TOO_LARGE"
  | "INVALID_HEADER_LENGTH"
  | "INVALID_UTF8"
  | "HEADER_NOT_OBJECT"
  | "INVALID_JSON"
  | "DUPLICATE_TENSOR"
  | "DUPLICATE_KEY"
  | "INVALID_ENTRY"
  | "MISSING_FIELD"
  | "UNKNOWN_DTYPE"
  | "UNSUPPORTED_DTYPE"
  | "INVALID_SHAPE"
  | "INVALID_OFFSETS"
  | "VALIDATION_OVERFLOW"
  | "SHAPE_MISMATCH"
  | "OFFSET_OUT_OF_BOUNDS"
  | "OVERLAP"
  | "GAP"
  | "INCOMPLETE_BUFFER"
  | "INVALID_BOOL"
  | "INVALID_METADATA"
  | "INVALID_TENSOR_NAME"
  | "DATA_TYPE_MISMATCH"
  | "BIG_ENDIAN_HOST";

export class SafetensorsError extends Error {
  override readonly name = "SafetensorsError";
  readonly code: SafetensorsErrorCode;
  /** The tensor the problem is about, when there is one. */
  readonly tensor?: string;
  /** The file (or other source) being read, when known. */
  readonly source?: string;

  constructor(code: SafetensorsErrorCode, message: string, opts: { tensor?: string; source?: string } = {}) {
    super(opts.source ? `${opts.source}: ${message}` : message);
    this.code = code;
    if (opts.tensor !== undefined) this.tensor = opts.tensor;
    if (opts.source !== undefined) this.source = opts.source;
  }
}

/** Data is stored little-endian and read through typed arrays, which use the host's byte order. */
export function assertLittleEndianHost(): void {
  if (new Uint8Array(new Uint16Array([1]).buffer)[0] !== 1) {
    throw new SafetensorsError(
      "BIG_ENDIAN_HOST",
      "safetensors data is little-endian; this host is big-endian, which lora-lab does not support",
    );
  }
}
