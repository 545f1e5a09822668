/** Conversions between stored tensors and float32, with exact F16/BF16 bit handling. */
import { SafetensorsError, type SafeTensor } from "./dtypes.js";

/** Every F16 and BF16 value is exactly a float32, so widening is by bits, keeping NaN payloads. */
export function toFloat32(t: SafeTensor): Float32Array {
  const n = t.data.length;
  switch (t.dtype) {
    case "F16":
    case "BF16": {
      const src = t.data as Uint16Array;
      const out = new Float32Array(n);
      const bits = new Uint32Array(out.buffer);
      const widen = t.dtype === "F16" ? f16BitsToF32Bits : (h: number) => (h << 16) >>> 0;
      for (let i = 0; i < n; i++) bits[i] = widen(src[i]);
      return out;
    }
    case "I64":
    case "U64": {
      // Number() rounds to float64 first; values past 2**53 may then round once more to float32.
      const src = t.data as BigInt64Array | BigUint64Array;
      const out = new Float32Array(n);
      for (let i = 0; i < n; i++) out[i] = Number(src[i]);
      return out;
    }
    default:
      // Same-type construction copies bytes; other number arrays convert with round-to-nearest-even.
      return new Float32Array(t.data as Exclude<SafeTensor["data"], BigInt64Array | BigUint64Array>);
  }
}

/** Narrows float32 values to a stored tensor; F16 and BF16 round to nearest, ties to even. */
export function fromFloat32(values: Float32Array, shape: number[], dtype: "F32" | "F16" | "BF16" = "F32"): SafeTensor {
  if (!Array.isArray(shape) || !shape.every((d) => Number.isSafeInteger(d) && d >= 0)) {
    throw new SafetensorsError("INVALID_SHAPE", `shape must be an array of non-negative integers; got ${JSON.stringify(shape)}`);
  }
  const elements = shape.reduce((a, b) => a * b, 1);
  if (values.length !== elements) {
    throw new SafetensorsError(
      "SHAPE_MISMATCH",
      `shape [${shape.join(", ")}] holds ${elements} elements but ${values.length} values were given`,
    );
  }
  if (dtype === "F32") return { dtype, shape: [...shape], data: new Float32Array(values) };
  if (dtype !== "F16" && dtype !== "BF16") {
    throw new SafetensorsError("UNKNOWN_DTYPE", `fromFloat32 writes F32, F16 or BF16; got ${JSON.stringify(dtype)}`);
  }
  const bits = new Uint32Array(values.buffer, values.byteOffset, values.length);
  const narrow = dtype === "F16" ? f32BitsToF16Bits : f32BitsToBf16Bits;
  const data = new Uint16Array(values.length);
  for (let i = 0; i < values.length; i++) data[i] = narrow(bits[i]);
  return { dtype, shape: [...shape], data };
}

/** IEEE binary16 bits -> binary32 bits (exact). */
export function f16BitsToF32Bits(h: number): number {
  const sign = (h & 0x8000) << 16;
  const exp = (h >>> 10) & 0x1f;
  let mant = h & 0x3ff;
  if (exp === 0x1f) return (sign | 0x7f800000 | (mant << 13)) >>> 0; // inf / NaN, payload kept
  if (exp !== 0) return (sign | ((exp + 112) << 23) | (mant << 13)) >>> 0; // rebias 15 -> 127
  if (mant === 0) return sign >>> 0;
  // Subnormal: shift the mantissa up until its leading 1 becomes the implicit bit.
  let e = 113;
  while ((mant & 0x400) === 0) {
    mant <<= 1;
    e--;
  }
  return (sign | (e << 23) | ((mant & 0x3ff) << 13)) >>> 0;
}

/** binary32 bits -> binary16 bits, round to nearest, ties to even; overflow goes to infinity. */
export function f32BitsToF16Bits(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 | (mant >>> 13) : 0); // NaN stays NaN (quiet)
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00;
  if (e <= 0) {
    // Result is subnormal (or zero): value = m * 2^-24 with m = full mantissa >> (14 - e).
    if (e < -10) return sign;
    return sign | roundShift(mant | 0x800000, 14 - e);
  }
  // A carry out of the mantissa rolls into the exponent, up to infinity: exactly what RNE wants.
  return sign | ((e << 10) + roundShift(mant, 13));
}

/** binary32 bits -> bfloat16 bits (the top half), round to nearest, ties to even. */
export function f32BitsToBf16Bits(x: number): number {
  if ((x & 0x7fffffff) > 0x7f800000) return ((x >>> 16) | 0x40) & 0xffff; // NaN: keep it NaN (quiet)
  return (roundShift(x >>> 0, 16) >>> 0) & 0xffff;
}

/** `value >> shift`, rounded to nearest with ties to even. */
function roundShift(value: number, shift: number): number {
  const q = Math.floor(value / 2 ** shift); // value may use all 32 bits
  const rem = value - q * 2 ** shift;
  const half = 2 ** (shift - 1);
  return rem > half || (rem === half && q % 2 === 1) ? q + 1 : q;
}
