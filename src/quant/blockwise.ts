/**
 * Blockwise 4-bit quantization as bitsandbytes' quantize_4bit / dequantize_4bit: per block of
 * `blocksize` values, absmax = max|x|, each value divided by it and mapped to the nearest code;
 * two codes per byte, the first of each pair in the high nibble ((q[0::2] << 4) | q[1::2]).
 * Double quantization (QLoRA's compress_statistics): the float32 absmax constants minus their mean
 * are quantized blockwise again, blocks of 256, to 8 bits with the signed dynamic map.
 *
 * Deliberate differences from bitsandbytes: x / absmax is a float32 division (its CUDA kernel
 * multiplies by a float32 reciprocal, which can move a value lying within an ulp of a midpoint);
 * the absmax mean is summed in float64; an all-zero block keeps absmax 0 and code "zero" (the
 * kernel would divide by zero). Everything is float32, as bitsandbytes with a float32 input.
 */
import { NearestCode, codeFor, signedDynamicMap, type QuantType } from "./codes.js";

export type { QuantType } from "./codes.js";

export interface QuantizeOptions {
  quantType: QuantType;
  /** Values per absmax block: 32..4096, a power of two (bitsandbytes' range); default 64. */
  blocksize?: number;
  /** Quantize the absmax constants to 8 bits (blocks of 256) as QLoRA; default false. */
  doubleQuant?: boolean;
}

/** Second-level state of double quantization (bitsandbytes' state2 plus offset). */
export interface DoubleQuantState {
  /** One 8-bit code of the signed dynamic map per 4-bit block. */
  codes: Uint8Array;
  /** absmax of each group of `blocksize` (256) centred constants. */
  absmax: Float32Array;
  blocksize: number;
  /** Mean of the float32 absmax constants, added back on dequantization. */
  offset: number;
}

export interface QuantizedTensor {
  quantType: QuantType;
  blocksize: number;
  /** Number of values quantized. */
  numel: number;
  /** Shape to restore, if known (dequantize returns a flat array either way). */
  shape?: number[];
  /** ceil(numel / 2) bytes, first value of each pair in the high nibble. */
  packed: Uint8Array;
  /** One float32 absmax per block; undefined with double quantization (see `state2`). */
  absmax?: Float32Array;
  state2?: DoubleQuantState;
}

const DQ_BLOCKSIZE = 256;
let dynamicMap: Float32Array | undefined;
let dynamicNearest: NearestCode | undefined;

function checkBlocksize(blocksize: number): void {
  if (!Number.isInteger(blocksize) || blocksize < 32 || blocksize > 4096 || (blocksize & (blocksize - 1)) !== 0) {
    throw new Error(`blocksize must be a power of two in 32..4096 (bitsandbytes' 4-bit range), got ${blocksize}`);
  }
}

/** absmax per block and the code index of every value: the shared step of 4- and 8-bit quantization. */
function blockwiseCodes(values: Float32Array, blocksize: number, nearest: NearestCode): { codes: Uint8Array; absmax: Float32Array } {
  const n = values.length;
  const blocks = Math.ceil(n / blocksize);
  const absmax = new Float32Array(blocks);
  const codes = new Uint8Array(n);
  const zero = nearest.index(0);
  for (let b = 0; b < blocks; b++) {
    const start = b * blocksize;
    const end = Math.min(n, start + blocksize);
    let m = 0;
    for (let i = start; i < end; i++) m = Math.max(m, Math.abs(values[i]));
    absmax[b] = m;
    for (let i = start; i < end; i++) {
      codes[i] = m === 0 ? zero : nearest.index(Math.min(1, Math.max(-1, Math.fround(values[i] / m))));
    }
  }
  return { codes, absmax };
}

export function packNibbles(codes: Uint8Array): Uint8Array {
  const out = new Uint8Array(Math.ceil(codes.length / 2));
  for (let i = 0; i < codes.length; i += 2) out[i >> 1] = (codes[i] << 4) | (i + 1 < codes.length ? codes[i + 1] : 0);
  return out;
}

export function unpackNibbles(packed: Uint8Array, numel: number): Uint8Array {
  const out = new Uint8Array(numel);
  for (let i = 0; i < numel; i++) out[i] = i & 1 ? packed[i >> 1] & 0x0f : packed[i >> 1] >> 4;
  return out;
}

export function quantize(values: Float32Array, opts: QuantizeOptions, shape?: number[]): QuantizedTensor {
  if (!(values instanceof Float32Array)) throw new Error(`quantize expects a Float32Array, got ${Object.prototype.toString.call(values)}`);
  const blocksize = opts.blocksize ?? 64;
  checkBlocksize(blocksize);
  const code = codeFor(opts.quantType);
  for (let i = 0; i < values.length; i++) {
    if (!Number.isFinite(values[i])) throw new Error(`quantize: value ${values[i]} at index ${i} is not finite`);
  }
  const { codes, absmax } = blockwiseCodes(values, blocksize, new NearestCode(code));
  const q: QuantizedTensor = { quantType: opts.quantType, blocksize, numel: values.length, packed: packNibbles(codes), shape };
  if (opts.doubleQuant) q.state2 = quantizeAbsmax(absmax);
  else q.absmax = absmax;
  return q;
}

/** bitsandbytes' double quantization of the absmax constants. */
function quantizeAbsmax(absmax: Float32Array): DoubleQuantState {
  dynamicMap ??= signedDynamicMap();
  dynamicNearest ??= new NearestCode(dynamicMap);
  let sum = 0;
  for (const a of absmax) sum += a;
  const offset = absmax.length ? Math.fround(sum / absmax.length) : 0;
  const centred = Float32Array.from(absmax, (a) => a - offset);
  const { codes, absmax: absmax2 } = blockwiseCodes(centred, DQ_BLOCKSIZE, dynamicNearest);
  return { codes, absmax: absmax2, blocksize: DQ_BLOCKSIZE, offset };
}

// Restored absmax per double-quantization state: a QLoRA forward dequantizes every step, and the
// state never changes once made (the returned array is shared: callers only read it).
const restoredAbsmax = new WeakMap<DoubleQuantState, Float32Array>();

/**
 * The per-block absmax constants as dequantization uses them (restored from 8 bits when double
 * quantized). The array is shared with later calls: read it, do not write to it.
 */
export function blockAbsmax(q: QuantizedTensor): Float32Array {
  if (q.absmax) return q.absmax;
  const s = q.state2;
  if (!s) throw new Error("QuantizedTensor has neither absmax nor state2 (double quantization state)");
  const cached = restoredAbsmax.get(s);
  if (cached) return cached;
  dynamicMap ??= signedDynamicMap();
  const map = dynamicMap;
  const restored = Float32Array.from(s.codes, (c, b) => Math.fround(map[c] * s.absmax[Math.floor(b / s.blocksize)]) + s.offset);
  restoredAbsmax.set(s, restored);
  return restored;
}

export function dequantize(q: QuantizedTensor): Float32Array {
  const code = codeFor(q.quantType);
  const absmax = blockAbsmax(q);
  const expectedBlocks = Math.ceil(q.numel / q.blocksize);
  if (absmax.length !== expectedBlocks || q.packed.length !== Math.ceil(q.numel / 2)) {
    throw new Error(
      `QuantizedTensor is inconsistent: ${q.numel} values in blocks of ${q.blocksize} need ${expectedBlocks} absmax and ` +
        `${Math.ceil(q.numel / 2)} packed bytes, got ${absmax.length} and ${q.packed.length}`,
    );
  }
  const out = new Float32Array(q.numel);
  const packed = q.packed;
  // Block by block: one absmax per block instead of a division per value.
  for (let start = 0, b = 0; start < q.numel; start += q.blocksize, b++) {
    const scale = absmax[b];
    const end = Math.min(start + q.blocksize, q.numel);
    for (let i = start; i < end; i++) {
      const byte = packed[i >> 1];
      out[i] = code[i & 1 ? byte & 0x0f : byte >> 4] * scale;
    }
  }
  return out;
}

/** Bytes the quantized tensor occupies: packed codes plus its constants (float32 / uint8). */
export function quantizedBytes(q: QuantizedTensor): number {
  let bytes = q.packed.byteLength;
  if (q.absmax) bytes += q.absmax.byteLength;
  if (q.state2) bytes += q.state2.codes.byteLength + q.state2.absmax.byteLength + 4; // + the float32 offset
  return bytes;
}

/** Storage bits per quantized value: 4 + 32/blocksize, or 4 + 8/blocksize + 32/(blocksize*256) with double quantization. */
export function bitsPerParameter(q: QuantizedTensor): number {
  if (q.numel === 0) throw new Error("bitsPerParameter of an empty QuantizedTensor is undefined");
  return (quantizedBytes(q) * 8) / q.numel;
}
