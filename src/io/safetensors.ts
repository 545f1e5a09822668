/**
 * The safetensors format, as the reference Rust crate (huggingface/safetensors, src/tensor.rs)
 * reads and writes it: an 8-byte little-endian header length N, N bytes of JSON, then the data.
 * The reader is strict: anything the crate rejects is rejected here with a named error code.
 */
import { readFile } from "node:fs/promises";
import { writeFileAtomic } from "./atomic.js";
import {
  CRATE_ONLY_DTYPES,
  DTYPE_ALIGNMENT_RANK,
  DTYPE_ARRAY,
  DTYPE_BYTES,
  SAFETENSORS_DTYPES,
  SafetensorsError,
  assertLittleEndianHost,
  isDtype,
  typedArrayFromBytes,
  typedArrayName,
  type SafeTensor,
  type SafetensorsDtype,
  type SafetensorsErrorCode,
} from "./dtypes.js";
import { findDuplicateKey } from "./json_keys.js";

export interface SafetensorsFile {
  tensors: Record<string, SafeTensor>;
  metadata: Record<string, string>;
}

/** The crate's MAX_HEADER_SIZE: a larger header is taken as a corrupt or hostile file. */
export const MAX_HEADER_SIZE = 100_000_000;
const N_LEN = 8;
const METADATA_KEY = "__metadata__";

interface Entry {
  name: string;
  dtype: SafetensorsDtype;
  shape: number[];
  begin: number;
  end: number;
}

/** Parses a whole safetensors file. Tensor data is copied out, so the result never aliases `bytes`. */
export function parseSafetensors(bytes: Uint8Array, opts: { source?: string } = {}): SafetensorsFile {
  assertLittleEndianHost();
  const fail = (code: SafetensorsErrorCode, message: string, tensor?: string): never => {
    throw new SafetensorsError(code, message, { tensor, source: opts.source });
  };

  if (bytes.length < N_LEN) {
    fail("HEADER_TOO_SMALL", `file is ${bytes.length} bytes; a safetensors file starts with an 8-byte header length`);
  }
  const n = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength).getBigUint64(0, true);
  if (n > BigInt(MAX_HEADER_SIZE)) {
    fail("HEADER_TOO_LARGE", `header length is ${n} bytes; at most ${MAX_HEADER_SIZE} are allowed`);
  }
  const headerLen = Number(n);
  if (N_LEN + headerLen > bytes.length) {
    fail("INVALID_HEADER_LENGTH", `header length is ${headerLen} bytes but only ${bytes.length - N_LEN} bytes follow the 8-byte length`);
  }
  const headerBytes = bytes.subarray(N_LEN, N_LEN + headerLen);
  let text = "";
  try {
    text = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true }).decode(headerBytes);
  } catch {
    fail("INVALID_UTF8", `header (${headerLen} bytes) is not valid UTF-8`);
  }
  // The format spec says the header MUST begin with "{"; the crate also skips leading whitespace.
  if (headerBytes[0] !== 0x7b) {
    const got =
      headerLen === 0 ? "an empty header" : `first byte 0x${headerBytes[0].toString(16).padStart(2, "0")} (${JSON.stringify(text[0])})`;
    fail("HEADER_NOT_OBJECT", `header must be a JSON object starting with "{" (0x7b); got ${got}`);
  }
  let header: unknown;
  try {
    header = JSON.parse(text); // JSON.parse allows trailing whitespace padding, as the crate does
  } catch (err) {
    fail("INVALID_JSON", `header is not valid JSON: ${(err as Error).message}`);
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) {
    fail("HEADER_NOT_OBJECT", "header must be a JSON object");
  }
  const dup = findDuplicateKey(text);
  if (dup && dup.path.length === 0) {
    fail("DUPLICATE_TENSOR", `header names tensor "${dup.key}" more than once; tensor names must be unique`, dup.key);
  } else if (dup) {
    fail("DUPLICATE_KEY", `key "${dup.key}" appears more than once in header entry "${dup.path.join(".")}"`, dup.path[0]);
  }

  const bufferStart = N_LEN + headerLen;
  const bufferLen = bytes.length - bufferStart;
  const fields = header as Record<string, unknown>;
  const metadata = parseMetadata(fields[METADATA_KEY], fail);
  const entries = Object.keys(fields)
    .filter((name) => name !== METADATA_KEY)
    .map((name) => parseEntry(name, fields[name], bufferLen, fail));

  // Data must tile the buffer exactly: sorted by offsets, each tensor starts where the last ended.
  entries.sort((a, b) => a.begin - b.begin || a.end - b.end);
  let cursor = 0;
  let previous: Entry | undefined;
  for (const e of entries) {
    if (e.begin < cursor && previous) {
      fail(
        "OVERLAP",
        `tensor "${e.name}" (bytes ${e.begin}..${e.end}) overlaps tensor "${previous.name}" (bytes ${previous.begin}..${previous.end}); tensors must not share bytes`,
        e.name,
      );
    }
    if (e.begin > cursor) {
      const after = previous ? `after tensor "${previous.name}"` : "at the start of the data buffer";
      fail("GAP", `bytes ${cursor}..${e.begin} ${after} belong to no tensor; tensor "${e.name}" should begin at ${cursor}`, e.name);
    }
    cursor = e.end;
    previous = e;
  }
  if (cursor !== bufferLen) {
    fail(
      "INCOMPLETE_BUFFER",
      `tensors cover ${cursor} bytes of the ${bufferLen}-byte data buffer; the last ${bufferLen - cursor} bytes belong to no tensor`,
    );
  }

  const tensors: Record<string, SafeTensor> = {};
  for (const e of entries) {
    const data = typedArrayFromBytes(e.dtype, bytes.subarray(bufferStart + e.begin, bufferStart + e.end));
    if (e.dtype === "BOOL") {
      const bad = (data as Uint8Array).findIndex((v) => v > 1);
      if (bad >= 0) fail("INVALID_BOOL", `BOOL tensor "${e.name}" holds byte ${data[bad]} at element ${bad}; expected 0 or 1`, e.name);
    }
    setOwn(tensors, e.name, { dtype: e.dtype, shape: e.shape, data });
  }
  return { tensors, metadata };
}

type Fail = (code: SafetensorsErrorCode, message: string, tensor?: string) => never;

function parseMetadata(value: unknown, fail: Fail): Record<string, string> {
  const metadata: Record<string, string> = {};
  if (value === undefined || value === null) return metadata; // serde reads null as "no metadata"
  if (typeof value !== "object" || Array.isArray(value)) {
    return fail("INVALID_METADATA", `"${METADATA_KEY}" must be an object of string values; got ${describe(value)}`);
  }
  for (const [key, v] of Object.entries(value)) {
    if (typeof v !== "string") fail("INVALID_METADATA", `"${METADATA_KEY}" value for "${key}" must be a string; got ${describe(v)}`);
    setOwn(metadata, key, v as string);
  }
  return metadata;
}

function parseEntry(name: string, value: unknown, bufferLen: number, fail: Fail): Entry {
  const where = `tensor "${name}"`;
  if (typeof value !== "object" || value === null || Array.isArray(value)) {
    return fail("INVALID_ENTRY", `${where}: entry must be an object {"dtype", "shape", "data_offsets"}; got ${describe(value)}`, name);
  }
  const entry = value as Record<string, unknown>;
  for (const field of ["dtype", "shape", "data_offsets"]) {
    if (!Object.prototype.hasOwnProperty.call(entry, field)) fail("MISSING_FIELD", `${where}: entry has no "${field}" field`, name);
  }

  const dtype = entry.dtype;
  if (!isDtype(dtype)) {
    const known = SAFETENSORS_DTYPES.join(", ");
    if (typeof dtype === "string" && CRATE_ONLY_DTYPES.includes(dtype)) {
      fail("UNSUPPORTED_DTYPE", `${where}: dtype "${dtype}" is valid safetensors but not supported by lora-lab; supported: ${known}`, name);
    }
    fail("UNKNOWN_DTYPE", `${where}: unknown dtype ${describe(dtype)}; expected one of ${known}`, name);
  }
  const d = dtype as SafetensorsDtype;

  const shape = entry.shape;
  if (!Array.isArray(shape))
    fail("INVALID_SHAPE", `${where}: shape must be an array of non-negative integers; got ${describe(shape)}`, name);
  let elements = 1;
  for (const [axis, dim] of (shape as unknown[]).entries()) {
    if (typeof dim !== "number" || !Number.isInteger(dim) || dim < 0) {
      fail("INVALID_SHAPE", `${where}: shape[${axis}] is ${describe(dim)}; dimensions must be non-negative integers`, name);
    }
    elements *= dim as number;
    if ((dim as number) > Number.MAX_SAFE_INTEGER || elements * DTYPE_BYTES[d] > Number.MAX_SAFE_INTEGER) {
      fail("VALIDATION_OVERFLOW", `${where}: shape ${JSON.stringify(shape)} of ${d} overflows the byte size a file can hold`, name);
    }
  }

  const offsets = entry.data_offsets;
  const isOffset = (v: unknown) => typeof v === "number" && Number.isSafeInteger(v) && v >= 0;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every(isOffset)) {
    fail("INVALID_OFFSETS", `${where}: data_offsets must be [begin, end], two non-negative integers; got ${describe(offsets)}`, name);
  }
  const [begin, end] = offsets as [number, number];
  if (begin > end) fail("INVALID_OFFSETS", `${where}: data_offsets [${begin}, ${end}] begin after they end`, name);
  const expected = elements * DTYPE_BYTES[d];
  if (end - begin !== expected) {
    fail(
      "SHAPE_MISMATCH",
      `${where}: data_offsets [${begin}, ${end}] span ${end - begin} bytes but ${d} shape [${(shape as number[]).join(", ")}] needs ${expected}`,
      name,
    );
  }
  if (end > bufferLen) {
    fail("OFFSET_OUT_OF_BOUNDS", `${where}: data_offsets [${begin}, ${end}] end beyond the ${bufferLen}-byte data buffer`, name);
  }
  return { name, dtype: d, shape: (shape as number[]).map((x) => x + 0), begin, end }; // + 0 turns -0 into 0
}

/** Serializes tensors exactly as the Rust crate does: same order, offsets, JSON and padding. */
export function serializeSafetensors(tensors: Record<string, SafeTensor>, metadata?: Record<string, string>): Uint8Array {
  assertLittleEndianHost();
  const items = Object.keys(tensors).map((name) => [name, checkTensor(name, tensors[name])] as const);
  // The crate's order: descending dtype alignment, then name by UTF-8 bytes (= code point order).
  items.sort(([a, ta], [b, tb]) => DTYPE_ALIGNMENT_RANK[tb.dtype] - DTYPE_ALIGNMENT_RANK[ta.dtype] || compareCodePoints(a, b));

  const parts: string[] = [];
  if (metadata !== undefined) parts.push(`${JSON.stringify(METADATA_KEY)}:${JSON.stringify(checkMetadata(metadata))}`);
  let offset = 0;
  for (const [name, t] of items) {
    const info = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.data.byteLength] };
    parts.push(`${JSON.stringify(name)}:${JSON.stringify(info)}`);
    offset += t.data.byteLength;
  }
  const json = new TextEncoder().encode(`{${parts.join(",")}}`);
  // Padding the header to a multiple of 8 keeps every tensor's data aligned to its element size.
  const headerLen = Math.ceil(json.length / N_LEN) * N_LEN;
  if (headerLen > MAX_HEADER_SIZE) {
    throw new SafetensorsError("HEADER_TOO_LARGE", `header would be ${headerLen} bytes; at most ${MAX_HEADER_SIZE} are allowed`);
  }

  const out = new Uint8Array(N_LEN + headerLen + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(headerLen), true);
  out.set(json, N_LEN);
  out.fill(0x20, N_LEN + json.length, N_LEN + headerLen);
  let cursor = N_LEN + headerLen;
  for (const [, t] of items) {
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), cursor);
    cursor += t.data.byteLength;
  }
  return out;
}

function checkTensor(name: string, t: SafeTensor): SafeTensor {
  const fail = (code: SafetensorsErrorCode, message: string): never => {
    throw new SafetensorsError(code, `tensor "${name}": ${message}`, { tensor: name });
  };
  if (name === METADATA_KEY) fail("INVALID_TENSOR_NAME", `"${METADATA_KEY}" is reserved for the file's metadata`);
  if (!isWellFormed(name)) fail("INVALID_TENSOR_NAME", "name contains a lone UTF-16 surrogate and cannot be written as UTF-8");
  if (typeof t !== "object" || t === null) fail("INVALID_ENTRY", `expected {dtype, shape, data}; got ${describe(t)}`);
  if (!isDtype(t.dtype)) fail("UNKNOWN_DTYPE", `unknown dtype ${describe(t.dtype)}; expected one of ${SAFETENSORS_DTYPES.join(", ")}`);
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    fail("INVALID_SHAPE", `shape must be an array of non-negative integers; got ${describe(t.shape)}`);
  }
  const kind = typedArrayName(t.data);
  if (kind !== DTYPE_ARRAY[t.dtype]) fail("DATA_TYPE_MISMATCH", `${t.dtype} data must be a ${DTYPE_ARRAY[t.dtype]}; got ${kind}`);
  const elements = t.shape.reduce((a, b) => a * b, 1);
  if (t.data.length !== elements) {
    fail("SHAPE_MISMATCH", `shape [${t.shape.join(", ")}] holds ${elements} elements but data has ${t.data.length}`);
  }
  if (t.dtype === "BOOL") {
    const bad = (t.data as Uint8Array).findIndex((v) => v > 1);
    if (bad >= 0) fail("INVALID_BOOL", `BOOL data holds ${t.data[bad]} at element ${bad}; expected 0 or 1`);
  }
  return t;
}

function checkMetadata(metadata: Record<string, string>): Record<string, string> {
  if (typeof metadata !== "object" || metadata === null || Array.isArray(metadata)) {
    throw new SafetensorsError("INVALID_METADATA", `metadata must be an object of string values; got ${describe(metadata)}`);
  }
  for (const [key, v] of Object.entries(metadata)) {
    if (typeof v !== "string")
      throw new SafetensorsError("INVALID_METADATA", `metadata value for "${key}" must be a string; got ${describe(v)}`);
    if (!isWellFormed(key) || !isWellFormed(v)) {
      throw new SafetensorsError(
        "INVALID_METADATA",
        `metadata entry "${key}" contains a lone UTF-16 surrogate and cannot be written as UTF-8`,
      );
    }
  }
  return metadata;
}

/** Reads and parses a file; every error message starts with the file's path. */
export async function readSafetensors(path: string): Promise<SafetensorsFile> {
  return parseSafetensors(await readFile(path), { source: path });
}

/** Serializes and writes atomically: the old file stays intact if anything fails. */
export async function writeSafetensors(
  path: string,
  tensors: Record<string, SafeTensor>,
  metadata?: Record<string, string>,
): Promise<void> {
  await writeFileAtomic(path, serializeSafetensors(tensors, metadata));
}

function compareCodePoints(a: string, b: string): number {
  const x = Array.from(a, (c) => c.codePointAt(0) as number);
  const y = Array.from(b, (c) => c.codePointAt(0) as number);
  for (let i = 0; i < Math.min(x.length, y.length); i++) if (x[i] !== y[i]) return x[i] - y[i];
  return x.length - y.length;
}

function isWellFormed(s: string): boolean {
  return !/[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.test(s);
}

/** A key such as "__proto__" must become an own property, not the object's prototype. */
function setOwn<T>(obj: Record<string, T>, key: string, value: T): void {
  Object.defineProperty(obj, key, { value, enumerable: true, writable: true, configurable: true });
}

function describe(value: unknown): string {
  if (value === undefined) return "undefined";
  const kind = Array.isArray(value) ? "an array" : value === null ? "null" : `a ${typeof value}`;
  const text = typeof value === "bigint" ? `${value}n` : JSON.stringify(value);
  return text !== undefined && text.length <= 60 ? `${text} (${kind})` : kind;
}
