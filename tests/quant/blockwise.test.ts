import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  FP4_CODE,
  INT4_CODE,
  NF4_CODE,
  bitsPerParameter,
  blockAbsmax,
  dequantize,
  quantize,
  type QuantType,
} from "../../src/quant/index.js";
import { signedDynamicMap } from "../../src/quant/codes.js";
import { unpackNibbles } from "../../src/quant/blockwise.js";

// Written by tests/fixtures/quant_reference.py (numpy + torch, from the published algorithm).
const ref = JSON.parse(readFileSync(new URL("../fixtures/quant_reference.json", import.meta.url), "utf8"));

/** The fixture's Park-Miller inputs, rebuilt with the same integer arithmetic. */
function testVector(seed: number, n: number): Float32Array {
  const M = 2 ** 31 - 1;
  let s = seed;
  const next = () => (s = (s * 48271) % M);
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const v = next() + next() + next() + next() - 2 * M;
    let x = (v / M) * 0.05;
    if (i % 97 === 0) x *= 4;
    out[i] = x;
  }
  return out;
}

function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString("hex");
}

// bitsandbytes' table as published (docs: peft-reference.md, functional.py's NF4 list).
const BNB_NF4 = [
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334, -0.09105003625154495,
  0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
  0.7229568362236023, 1.0,
];

describe("code tables", () => {
  it("NF4_CODE equals bitsandbytes' 16 values to 1e-7", () => {
    expect(NF4_CODE.length).toBe(16);
    BNB_NF4.forEach((v, i) => expect(Math.abs(NF4_CODE[i] - v)).toBeLessThan(1e-7));
  });

  it("FP4_CODE is E2M1 in bitsandbytes' bit order, sign in bit 3", () => {
    const mags = [0, 0.0625, 8, 12, 4, 6, 2, 3];
    mags.forEach((m, i) => {
      expect(FP4_CODE[i]).toBeCloseTo(m / 12, 7);
      expect(FP4_CODE[i + 8]).toBeCloseTo(-m / 12, 7);
    });
  });

  it("INT4_CODE is k/7 with zero at code 8", () => {
    expect(INT4_CODE[8]).toBe(0);
    expect(INT4_CODE[15]).toBeCloseTo(1, 7);
    expect(INT4_CODE[1]).toBeCloseTo(-1, 7);
  });

  // torch's vectorized float32 linspace rounds some points 1 ulp away from the scalar formula used here.
  it("the signed dynamic map matches torch's create_dynamic_map within 2 float32 ulps", () => {
    const map = signedDynamicMap();
    expect(map.length).toBe(256);
    ref.dynamicMap.forEach((v: number, i: number) => expect(Math.abs(map[i] - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -22));
  });
});

describe("quantize / dequantize against the reference script", () => {
  for (const c of ref.cases) {
    it(`${c.name}: exact codes, packing, absmax and values`, () => {
      const values = c.values ? Float32Array.from(c.values as number[]) : testVector(c.seed, c.n);
      const q = quantize(values, { quantType: c.quantType as QuantType, blocksize: c.blocksize });
      expect(Array.from(unpackNibbles(q.packed, q.numel))).toEqual(c.codes);
      expect(hex(q.packed)).toBe(c.packedHex);
      expect(Array.from(q.absmax!)).toEqual(c.absmax);
      const deq = dequantize(q);
      expect(Array.from(deq)).toEqual(c.dequantized);
      let mae = 0;
      for (let i = 0; i < values.length; i++) mae += Math.abs(deq[i] - values[i]);
      expect(mae / values.length).toBeCloseTo(c.meanAbsError, 9);
    });
  }

  for (const c of ref.doubleQuant) {
    it(`${c.name}: 8-bit absmax codes, offset and restored constants`, () => {
      const values = testVector(c.seed, c.n);
      const q = quantize(values, { quantType: "nf4", blocksize: c.blocksize, doubleQuant: true });
      expect(q.absmax).toBeUndefined();
      expect(hex(q.packed)).toBe(c.packedHex);
      const s = q.state2!;
      expect(s.blocksize).toBe(256);
      expect(s.offset).toBeCloseTo(c.offset, 12);
      expect(Array.from(s.codes)).toEqual(c.absmaxCodes);
      expect(Array.from(s.absmax)).toEqual(c.absmax2);
      const restored = blockAbsmax(q);
      (c.restoredAbsmax as number[]).forEach((v, i) => expect(Math.abs(restored[i] - v)).toBeLessThanOrEqual(Math.abs(v) * 2 ** -21));
      const deq = dequantize(q);
      (c.sampleIndices as number[]).forEach((k, j) =>
        expect(Math.abs(deq[k] - c.sampleDequantized[j])).toBeLessThanOrEqual(Math.abs(c.sampleDequantized[j]) * 2 ** -20),
      );
      let sum = 0;
      for (const v of deq) sum += v;
      expect(sum).toBeCloseTo(c.dequantizedSum, 4);
    });
  }
});

describe("rounding and packing rules", () => {
  it("a value exactly at a midpoint takes the smaller code (bitsandbytes' x > midpoint)", () => {
    // NF4 codes 7 (0) and 8 (0.0796...): midpoint 0.0397...; absmax 1 keeps values unscaled
    const mid = (NF4_CODE[7] + NF4_CODE[8]) / 2;
    const q = quantize(Float32Array.from([1, mid, Math.fround(mid + 1e-6)]), { quantType: "nf4", blocksize: 32 });
    expect(Array.from(unpackNibbles(q.packed, 3))).toEqual([15, 7, 8]);
  });

  it("NF4 decisions switch at the thresholds of bitsandbytes' CUDA tree (dQuantizeNF4)", () => {
    // thresholds of the positive half as published in csrc/kernels.cu, each with the code just above it
    const thresholds: Array<[number, number]> = [
      [0.03979014977812767, 8],
      [0.3893125355243683, 12],
      [0.5016634166240692, 13],
      [0.6427869200706482, 14],
      [0.8614784181118011, 15],
    ];
    for (const [t, above] of thresholds) {
      const q = quantize(Float32Array.from([1, t * (1 - 1e-6), t * (1 + 1e-6), 0]), { quantType: "nf4", blocksize: 32 });
      expect(Array.from(unpackNibbles(q.packed, 3))).toEqual([15, above - 1, above]);
    }
  });

  it("packs the first value of each pair in the high nibble, an odd tail in a zero low nibble", () => {
    const q = quantize(Float32Array.from([1, -1, 0]), { quantType: "nf4", blocksize: 32 });
    expect(Array.from(q.packed)).toEqual([0xf0, 0x70]);
  });

  it("rejects a blocksize outside bitsandbytes' range and an unknown type", () => {
    expect(() => quantize(new Float32Array(8), { quantType: "nf4", blocksize: 48 })).toThrow(
      /power of two in 32\.\.4096 \(bitsandbytes' 4-bit range\), got 48/,
    );
    expect(() => quantize(new Float32Array(8), { quantType: "nf2" as QuantType })).toThrow(/expected one of nf4, fp4, int4/);
    expect(() => quantize(Float32Array.from([NaN]), { quantType: "nf4" })).toThrow(/index 0 is not finite/);
  });
});

describe("error and size", () => {
  /** Box-Muller N(0, 1) from the Park-Miller stream (float32), as quant_reference.py's normal_vector. */
  function normal(n: number): Float32Array {
    const M = 2 ** 31 - 1;
    let s = 2024;
    const u = () => (s = (s * 48271) % M) / M;
    return Float32Array.from({ length: n }, () => Math.sqrt(-2 * Math.log(u())) * Math.cos(2 * Math.PI * u()));
  }

  it("mean absolute error on N(0, 1) data (blocksize 64) equals the reference script's, and docs/qlora.md's figures; NF4's is the lowest", () => {
    const x = normal(64 * 1024);
    const mae = (t: QuantType) => {
      const d = dequantize(quantize(x, { quantType: t }));
      let e = 0;
      for (let i = 0; i < x.length; i++) e += Math.abs(d[i] - x[i]);
      return e / x.length;
    };
    const want = ref.normalError as { seed: number; n: number; blocksize: number; meanAbsError: Record<QuantType, number> };
    expect([want.seed, want.n, want.blocksize]).toEqual([2024, x.length, 64]);
    const got = { nf4: mae("nf4"), fp4: mae("fp4"), int4: mae("int4") };
    for (const t of ["nf4", "fp4", "int4"] as const) expect(Math.abs(got[t] - want.meanAbsError[t])).toBeLessThan(1e-7);
    expect(got.nf4).toBeLessThan(got.fp4);
    expect(got.nf4).toBeLessThan(got.int4);
    // The figures the docs print, to their 4 digits.
    const docs = readFileSync(new URL("../../docs/qlora.md", import.meta.url), "utf8").replace(/\s+/g, " ");
    const printed = /absolute error is NF4 (\d+\.\d+), FP4 (\d+\.\d+), int4 (\d+\.\d+)/.exec(docs);
    expect(printed, "docs/qlora.md states the error figures").not.toBeNull();
    expect(printed!.slice(1).map(Number)).toEqual([got.nf4, got.fp4, got.int4].map((v) => Number(v.toFixed(4))));
  });

  it("bitsPerParameter: 4.5 without, 4 + 8/64 + 32/(64*256) with double quantization (blocksize 64)", () => {
    const x = normal(64 * 256 * 8);
    expect(bitsPerParameter(quantize(x, { quantType: "nf4" }))).toBe(4.5);
    const dq = bitsPerParameter(quantize(x, { quantType: "nf4", doubleQuant: true }));
    // plus one float32 offset per tensor: 32 / n
    expect(dq).toBeCloseTo(4 + 8 / 64 + 32 / (64 * 256) + 32 / x.length, 12);
    expect(dq).toBeCloseTo(4.127, 3);
  });
});
