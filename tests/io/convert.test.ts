import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { SafetensorsError, fromFloat32, parseSafetensors, toFloat32, type SafeTensor } from "../../src/io/index.js";

const FIXTURES = join(import.meta.dirname, "..", "fixtures", "io");

/** The float32 whose bits are `b` (for NaN payloads and exact values without decimal rounding). */
const f32 = (b: number) => new Float32Array(new Uint32Array([b]).buffer)[0];
const bitsOf = (a: Float32Array) => Array.from(new Uint32Array(a.buffer, a.byteOffset, a.length));

// Hand-computed IEEE binary16 encodings (sign | 5-bit exponent biased 15 | 10-bit mantissa).
const F16_CASES: Array<[string, number, number]> = [
  ["1.0", 1, 0x3c00],
  ["-2.0", -2, 0xc000],
  ["0.1 (rounds down)", 0.1, 0x2e66],
  ["1/3", 1 / 3, 0x3555],
  ["largest finite 65504", 65504, 0x7bff],
  ["65519 (below the tie with 65536)", 65519, 0x7bff],
  ["65520 (tie: rounds to even, i.e. infinity)", 65520, 0x7c00],
  ["70000 (overflow)", 70000, 0x7c00],
  ["+inf", Infinity, 0x7c00],
  ["-inf", -Infinity, 0xfc00],
  ["NaN (quiet)", NaN, 0x7e00],
  ["+0", 0, 0x0000],
  ["-0", -0, 0x8000],
  ["smallest normal 2^-14", 2 ** -14, 0x0400],
  ["largest subnormal 1023 * 2^-24", 1023 * 2 ** -24, 0x03ff],
  ["smallest subnormal 2^-24", 2 ** -24, 0x0001],
  ["-2^-24", -(2 ** -24), 0x8001],
  ["2^-25 (tie between 0 and 2^-24: to even, 0)", 2 ** -25, 0x0000],
  ["1.5 * 2^-25 (above the tie)", 1.5 * 2 ** -25, 0x0001],
  ["1.5 * 2^-24 (tie between 1 and 2 units: to even, 2)", 1.5 * 2 ** -24, 0x0002],
  ["2^-26 (underflow)", 2 ** -26, 0x0000],
  ["1 + 2^-11 (tie: to even, 1.0)", 1 + 2 ** -11, 0x3c00],
  ["1 + 3 * 2^-11 (tie: to even, 1 + 2^-9)", 1 + 3 * 2 ** -11, 0x3c02],
  ["1 + 2^-11 + 2^-20 (above the tie)", 1 + 2 ** -11 + 2 ** -20, 0x3c01],
  ["2047.5 * 2^-11 (rounds up across the exponent)", 1 + 1023.5 * 2 ** -10, 0x4000],
];

// bfloat16 is the top half of float32's bits, rounded.
const BF16_CASES: Array<[string, number, number]> = [
  ["1.0", 1, 0x3f80],
  ["-2.0", -2, 0xc000],
  ["pi (0x40490fdb rounds down)", f32(0x40490fdb), 0x4049],
  ["0.1 (0x3dcccccd rounds up)", f32(0x3dcccccd), 0x3dcd],
  ["1 + 2^-8 (tie: to even, 1.0)", 1 + 2 ** -8, 0x3f80],
  ["1 + 3 * 2^-8 (tie: to even, 1 + 2^-6)", 1 + 3 * 2 ** -8, 0x3f82],
  ["1 + 2^-8 + 2^-20 (above the tie)", 1 + 2 ** -8 + 2 ** -20, 0x3f81],
  ["largest bf16", f32(0x7f7f0000), 0x7f7f],
  ["largest float32 (rounds to inf)", f32(0x7f7fffff), 0x7f80],
  ["-inf", -Infinity, 0xff80],
  ["NaN (quiet)", NaN, 0x7fc0],
  ["-0", -0, 0x8000],
  ["float32 subnormal 0x000116c2", f32(0x000116c2), 0x0001],
];

describe("fromFloat32", () => {
  it.each(F16_CASES)("F16: %s", (_title, value, bits) => {
    expect(fromFloat32(new Float32Array([value]), [1], "F16").data).toEqual(new Uint16Array([bits]));
  });

  it.each(BF16_CASES)("BF16: %s", (_title, value, bits) => {
    expect(fromFloat32(new Float32Array([value]), [], "BF16").data).toEqual(new Uint16Array([bits]));
  });

  it("keeps a NaN a NaN when its payload sits only in the dropped bits", () => {
    const t = fromFloat32(new Float32Array([f32(0x7f800001), f32(0xff800001)]), [2], "BF16");
    expect(Array.from(t.data as Uint16Array)).toEqual([0x7fc0, 0xffc0]);
    expect(Array.from(fromFloat32(new Float32Array([f32(0x7f800001)]), [1], "F16").data as Uint16Array)).toEqual([0x7e00]);
  });

  it("defaults to F32, copies the values and the shape, and reads from a subarray", () => {
    const values = new Float32Array([9, 1, 2, 3, 4]).subarray(1);
    const shape = [2, 2];
    const t = fromFloat32(values, shape);
    expect(t).toEqual({ dtype: "F32", shape: [2, 2], data: new Float32Array([1, 2, 3, 4]) });
    expect(t.data.buffer).not.toBe(values.buffer);
    expect(t.shape).not.toBe(shape);
    expect(fromFloat32(values, [4], "F16").data).toEqual(new Uint16Array([0x3c00, 0x4000, 0x4200, 0x4400]));
  });

  it("rejects a shape that does not hold the values", () => {
    expect(() => fromFloat32(new Float32Array(3), [2, 2], "F16")).toThrow(/shape \[2, 2\] holds 4 elements but 3 values were given/);
    expect(() => fromFloat32(new Float32Array(0), [-1])).toThrow(SafetensorsError);
  });
});

describe("toFloat32", () => {
  it.each(F16_CASES.filter(([, v]) => isF16Exact(v)))("F16 %s widens back to itself", (_title, value, bits) => {
    expect(toFloat32({ dtype: "F16", shape: [1], data: new Uint16Array([bits]) })[0]).toBe(value);
  });

  const widen: Array<[string, SafeTensor, number[]]> = [
    [
      "F16 normals, subnormals, specials",
      { dtype: "F16", shape: [8], data: new Uint16Array([0x3c00, 0x3555, 0x7bff, 0x0001, 0x03ff, 0x0400, 0xfc00, 0x8000]) },
      [0x3f800000, 0x3eaaa000, 0x477fe000, 0x33800000, 0x387fc000, 0x38800000, 0xff800000, 0x80000000],
    ],
    ["F16 NaN payloads", { dtype: "F16", shape: [2], data: new Uint16Array([0x7e00, 0xfc01]) }, [0x7fc00000, 0xff802000]],
    [
      "BF16 bits into the top half",
      { dtype: "BF16", shape: [4], data: new Uint16Array([0x3f80, 0x4049, 0x0001, 0x7fc1]) },
      [0x3f800000, 0x40490000, 0x00010000, 0x7fc10000],
    ],
  ];
  it.each(widen)("%s (exact bits)", (_title, t, bits) => {
    expect(bitsOf(toFloat32(t))).toEqual(bits);
  });

  const numeric: Array<[string, SafeTensor, number[]]> = [
    ["F32 (a copy)", { dtype: "F32", shape: [2], data: new Float32Array([1.5, -2]) }, [1.5, -2]],
    ["F64 rounds to nearest float32", { dtype: "F64", shape: [2], data: new Float64Array([1 / 3, 1e300]) }, [0.3333333432674408, Infinity]],
    ["I64 extremes", { dtype: "I64", shape: [3], data: new BigInt64Array([-(2n ** 63n), -1n, 16777217n]) }, [-(2 ** 63), -1, 16777216]],
    ["U64 max rounds to 2^64", { dtype: "U64", shape: [1], data: new BigUint64Array([2n ** 64n - 1n]) }, [2 ** 64]],
    ["I32 max rounds to 2^31", { dtype: "I32", shape: [2], data: new Int32Array([2 ** 31 - 1, -5]) }, [2 ** 31, -5]],
    ["I16", { dtype: "I16", shape: [2], data: new Int16Array([-32768, 7]) }, [-32768, 7]],
    ["I8", { dtype: "I8", shape: [2], data: new Int8Array([-128, 127]) }, [-128, 127]],
    ["U16", { dtype: "U16", shape: [1], data: new Uint16Array([65535]) }, [65535]],
    ["U32", { dtype: "U32", shape: [1], data: new Uint32Array([2 ** 32 - 1]) }, [2 ** 32]],
    ["U8", { dtype: "U8", shape: [1], data: new Uint8Array([200]) }, [200]],
    ["BOOL", { dtype: "BOOL", shape: [3], data: new Uint8Array([1, 0, 1]) }, [1, 0, 1]],
    ["an empty tensor", { dtype: "F16", shape: [0], data: new Uint16Array(0) }, []],
  ];
  it.each(numeric)("%s", (_title, t, want) => {
    const out = toFloat32(t);
    expect(out).toBeInstanceOf(Float32Array);
    expect(Array.from(out)).toEqual(want);
    expect(out.buffer).not.toBe(t.data.buffer);
  });
});

describe("against torch's own casts (tests/fixtures/io/torch_dtypes.safetensors)", () => {
  const { tensors } = parseSafetensors(readFileSync(join(FIXTURES, "torch_dtypes.safetensors")));
  const source = tensors.f32_source.data as Float32Array;

  it("narrows float32 to F16 and BF16 with the same bits as torch", () => {
    expect(fromFloat32(source, [source.length], "F16").data).toEqual(tensors.f16_of_source.data);
    // torch's vectorized bf16 cast writes NaN as 0xffff, its scalar one as 0x7fc0 (ours): any NaN will do.
    const ours = Array.from(fromFloat32(source, [source.length], "BF16").data as Uint16Array);
    const theirs = Array.from(tensors.bf16_of_source.data as Uint16Array);
    const isNaN16 = (b: number) => (b & 0x7f80) === 0x7f80 && (b & 0x7f) !== 0;
    expect(ours.map((b, i) => (Number.isNaN(source[i]) ? isNaN16(b) && isNaN16(theirs[i]) : b))).toEqual(
      theirs.map((b, i) => (Number.isNaN(source[i]) ? true : b)),
    );
    expect(source.some(Number.isNaN)).toBe(true);
  });

  it("widens F16 and BF16 to the same float32 bits as torch", () => {
    expect(bitsOf(toFloat32(tensors.f16_of_source))).toEqual(bitsOf(tensors.f32_of_f16.data as Float32Array));
    expect(bitsOf(toFloat32(tensors.bf16_of_source))).toEqual(bitsOf(tensors.f32_of_bf16.data as Float32Array));
  });
});

/** Whether `v` has an exact binary16 encoding (normal or subnormal, or a special). */
function isF16Exact(v: number): boolean {
  if (!Number.isFinite(v) || v === 0) return true;
  const a = Math.abs(v);
  if (a > 65504 || a < 2 ** -24) return false;
  const ulp = a < 2 ** -14 ? 2 ** -24 : 2 ** (Math.floor(Math.log2(a)) - 10);
  return Number.isInteger(a / ulp);
}
