/**
 * bitsandbytes' 8-bit optimizer-state format, in plain typed arrays: the dynamic quantization map
 * (functional.create_dynamic_map) and blockwise absmax quantization with blocksize 256, the size
 * of current bitsandbytes' blockwise 8-bit optimizers (Optimizer8bit.init_state: blocks = ceil(n /
 * 256); older releases used 2048). TensorFlow.js has no uint8 dtype, so the codes live in JS
 * memory (Uint8Array), outside the backend.
 *
 * The code of a value is chosen as the optimizer kernel (kOptimizerStatic8bit2StateBlockwise with
 * quantize_2D) chooses it: the nearer neighbour by a float32 midpoint, an exact tie to the even
 * index, and exp_avg (signed map) moved one code when the nearest code has the other sign (a tiny
 * negative moment keeps a negative code rather than zero's). One difference: x / absmax is an
 * exact float32 division, where the kernel uses the approximate __fdividef.
 */

/** bitsandbytes' 8-bit optimizer blocksize. */
export const OPTIM_STATE_BLOCKSIZE = 256;
/** bitsandbytes' min_8bit_size: smaller tensors keep 32-bit states. */
export const MIN_8BIT_STATE_SIZE = 4096;

/**
 * The dynamic data type (Dettmers 2016): for exponent i = 0..6, 2^i (signed) or 2^(i+1) (unsigned)
 * fraction values at the midpoints of linspace(0.1, 1) scaled by 10^(i-6), mirrored for signed,
 * plus 0 and 1: 256 sorted values in [-1, 1] (signed) or [0, 1] (unsigned).
 */
export function optimDynamicMap(signed: boolean): Float32Array {
  const maxExponentBits = 7;
  const nonSignBits = 7;
  const data: number[] = [];
  for (let i = 0; i < maxExponentBits; i++) {
    const items = signed ? 2 ** (i + nonSignBits - maxExponentBits) + 1 : 2 ** (i + nonSignBits - maxExponentBits + 1) + 1;
    const bounds = linspaceFloat32(0.1, 1, items);
    const scale = Math.fround(10 ** (-(maxExponentBits - 1) + i));
    for (let k = 0; k + 1 < items; k++) {
      const mean = Math.fround((bounds[k] + bounds[k + 1]) / 2);
      data.push(Math.fround(scale * mean));
      if (signed) data.push(-Math.fround(scale * mean));
    }
  }
  data.push(0, 1);
  if (data.length !== 256) throw new Error(`optimDynamicMap: built ${data.length} values, expected 256`);
  return Float32Array.from(data.sort((a, b) => a - b));
}

/** torch.linspace in float32: the first half counts up from start, the second down from end. */
function linspaceFloat32(start: number, end: number, steps: number): number[] {
  const a = Math.fround(start);
  const b = Math.fround(end);
  const step = Math.fround((b - a) / (steps - 1));
  const half = Math.floor(steps / 2);
  return Array.from({ length: steps }, (_, k) => (k < half ? Math.fround(a + step * k) : Math.fround(b - step * (steps - 1 - k))));
}

/** exp_avg uses the signed map, exp_avg_sq the unsigned one (bitsandbytes' "dynamic" / "udynamic"). */
export const SIGNED_DYNAMIC_MAP = optimDynamicMap(true);
export const UNSIGNED_DYNAMIC_MAP = optimDynamicMap(false);

/** A state tensor as 8-bit codes into `code` with one float32 absmax per block. */
export interface Blockwise8bit {
  codes: Uint8Array;
  absmax: Float32Array;
  code: Float32Array;
}

/** Index of the code value nearest to x (code sorted ascending), by quantize_2D's float32 midpoint and tie rule. */
function nearestCode(code: Float32Array, x: number): number {
  let lo = 0;
  let hi = code.length - 1;
  while (hi - lo > 1) {
    const mid = (lo + hi) >> 1;
    if (code[mid] <= x) lo = mid;
    else hi = mid;
  }
  const midpoint = Math.fround((code[lo] + code[hi]) * 0.5);
  // The kernel's binary search ends on an even pivot and keeps it when x is exactly the midpoint.
  return x > midpoint ? hi : x < midpoint ? lo : lo % 2 === 0 ? lo : hi;
}

/** Sign bit as C's signbit: -0 counts as negative. */
const signbit = (v: number) => v < 0 || Object.is(v, -0);

/**
 * The code of `value` (already divided by its block's absmax: `scaled`): the nearest, then, on a
 * signed map, one step towards the value's sign if the nearest code has the other sign.
 */
function stateCode(code: Float32Array, value: number, scaled: number): number {
  const c = nearestCode(code, scaled);
  if (code[0] < 0 && signbit(code[c]) !== signbit(value)) return value > 0 ? c + 1 : c - 1;
  return c;
}

/** Blockwise absmax quantization: codes[i] = stateCode(code, x[i] / absmax[block]). */
export function quantizeOptimState(values: Float32Array, code: Float32Array, into?: Blockwise8bit): Blockwise8bit {
  const blocks = Math.ceil(values.length / OPTIM_STATE_BLOCKSIZE);
  const out = into ?? { codes: new Uint8Array(values.length), absmax: new Float32Array(blocks), code };
  for (let b = 0; b < blocks; b++) {
    const start = b * OPTIM_STATE_BLOCKSIZE;
    const end = Math.min(values.length, start + OPTIM_STATE_BLOCKSIZE);
    let max = 0;
    for (let i = start; i < end; i++) max = Math.max(max, Math.abs(values[i]));
    out.absmax[b] = max;
    // float32 division, as the reference; an all-zero block maps to code 0 (times absmax 0).
    for (let i = start; i < end; i++)
      out.codes[i] = max > 0 ? stateCode(code, values[i], Math.fround(values[i] / max)) : nearestCode(code, 0);
  }
  return out;
}

/** code[codes[i]] * absmax[block]. */
export function dequantizeOptimState(q: Blockwise8bit, into = new Float32Array(q.codes.length)): Float32Array {
  for (let i = 0; i < q.codes.length; i++) into[i] = q.code[q.codes[i]] * q.absmax[(i / OPTIM_STATE_BLOCKSIZE) | 0];
  return into;
}

/** Host bytes of one state tensor: 8-bit codes plus float32 absmax, or float32 values. */
export function stateBytes(state: Blockwise8bit | Float32Array): number {
  return state instanceof Float32Array ? state.byteLength : state.codes.byteLength + state.absmax.byteLength;
}
