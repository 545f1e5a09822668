/**
 * The 4-bit code books (index -> value in [-1, 1]) and bitsandbytes' nearest-code rule.
 * NF4 and FP4 follow bitsandbytes (functional.py and the CUDA decision trees in csrc/kernels.cu);
 * int4 is lora-lab's plain symmetric baseline for comparisons.
 */

/** bitsandbytes' NF4 table, ported as published (regenerating it with scipy differs in position 2). */
export const NF4_CODE: Float32Array = Float32Array.from([
  -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334, -0.09105003625154495,
  0.0, 0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
  0.7229568362236023, 1.0,
]);

/**
 * bitsandbytes' FP4 (E2M1, no inf/nan) by code bits: bit 3 is the sign, bits 0-2 index the
 * magnitudes [0, 0.0625, 8, 12, 4, 6, 2, 3] / 12 (its dequantization tree's order).
 */
export const FP4_CODE: Float32Array = (() => {
  const magnitudes = [0, 0.0625, 8, 12, 4, 6, 2, 3].map((m) => m / 12);
  return Float32Array.from([...magnitudes, ...magnitudes.map((m) => -m)]);
})();

/**
 * Symmetric absmax int4: code i means (i - 8) / 7, so 8 is zero and 1..15 cover [-1, 1] in
 * steps of 1/7; code 0 (-8/7) lies outside [-1, 1] and is never chosen (not a bitsandbytes type).
 */
export const INT4_CODE: Float32Array = Float32Array.from({ length: 16 }, (_, i) => (i - 8) / 7);

export type QuantType = "nf4" | "fp4" | "int4";

const CODES: Record<QuantType, Float32Array> = { nf4: NF4_CODE, fp4: FP4_CODE, int4: INT4_CODE };

export function codeFor(quantType: QuantType): Float32Array {
  const code = CODES[quantType];
  if (!code) throw new Error(`unknown quantType ${JSON.stringify(quantType)}; expected one of ${Object.keys(CODES).join(", ")}`);
  return code;
}

/**
 * Maps a scaled value (in [-1, 1]) to a code index: the nearest code value, as bitsandbytes'
 * kernels decide with `x > midpoint` between neighbours, so an exact tie goes to the smaller value.
 * Built for any table: indices sorted by value, midpoints between consecutive distinct values.
 */
export class NearestCode {
  private readonly order: Int32Array;
  private readonly midpoints: Float64Array;

  constructor(code: Float32Array, usable: (v: number) => boolean = (v) => v >= -1 && v <= 1) {
    const idx = [...code.keys()].filter((i) => usable(code[i]));
    // Sorted by value; of equal values (FP4's +0 / -0) keep the lower index, the one bitsandbytes emits.
    idx.sort((a, b) => code[a] - code[b] || a - b);
    const unique = idx.filter((v, k) => k === 0 || code[v] !== code[idx[k - 1]]);
    this.order = Int32Array.from(unique);
    this.midpoints = Float64Array.from(unique.slice(1), (v, k) => (code[unique[k]] + code[v]) / 2);
  }

  /** Index of the code nearest to x (binary search over the midpoints). */
  index(x: number): number {
    let lo = 0;
    let hi = this.midpoints.length; // answer in [0, midpoints.length]
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (x > this.midpoints[mid]) lo = mid + 1;
      else hi = mid;
    }
    return this.order[lo];
  }
}

/**
 * bitsandbytes' create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): for exponent
 * i = 0..6, the midpoints of linspace(0.1, 1, 2^i + 1) times 10^(i-6), both signs, plus 0 and 1,
 * sorted: 256 values. Computed in float32 with torch's scalar linspace formula; torch's vectorized
 * kernel rounds some points one ulp differently (tests allow 2 ulps).
 */
export function signedDynamicMap(): Float32Array {
  const f = Math.fround;
  const data: number[] = [];
  for (let i = 0; i < 7; i++) {
    const steps = 2 ** i + 1;
    const bounds = linspaceF32(0.1, 1, steps);
    const scale = 10 ** (i - 6);
    for (let k = 0; k + 1 < steps; k++) {
      const mean = f(f(bounds[k] + bounds[k + 1]) / 2);
      data.push(f(scale * mean), f(-scale * mean));
    }
  }
  data.push(0, 1);
  return Float32Array.from(data.sort((a, b) => a - b));
}

/** torch.linspace in float32: start + i*step for the first half, end - (steps-1-i)*step after. */
function linspaceF32(start: number, end: number, steps: number): Float32Array {
  const f = Math.fround;
  const out = new Float32Array(steps);
  if (steps === 1) {
    out[0] = start;
    return out;
  }
  const step = f(f(f(end) - f(start)) / (steps - 1));
  const half = Math.floor(steps / 2);
  for (let i = 0; i < steps; i++) out[i] = i < half ? f(f(start) + f(step * i)) : f(f(end) - f(step * (steps - 1 - i)));
  return out;
}
