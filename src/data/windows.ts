export interface WindowOptions {
  /** Tokens a model sees per example (its context T). */
  length: number;
  /** Start-to-start distance between windows; `length` (the default) tiles the text without overlap. */
  stride?: number;
}

/**
 * Cuts a token stream into windows of `length + 1` tokens: a model's inputs are `w[0..length)` and
 * its next-token targets `w[1..length]`, so consecutive windows share one token when
 * `stride === length`. A tail shorter than a whole window is dropped.
 */
export function tokenWindows(ids: ArrayLike<number>, options: WindowOptions): Int32Array[] {
  const { length, stride = length } = options;
  if (!Number.isInteger(length) || length < 1) throw new RangeError(`tokenWindows: length must be a positive integer; got ${length}`);
  if (!Number.isInteger(stride) || stride < 1) throw new RangeError(`tokenWindows: stride must be a positive integer; got ${stride}`);
  if (ids.length < length + 1) {
    throw new RangeError(`tokenWindows: text too short: ${ids.length} tokens, need at least length + 1 = ${length + 1} for one window`);
  }
  const source = Int32Array.from(ids);
  const windows: Int32Array[] = [];
  for (let start = 0; start + length + 1 <= source.length; start += stride) {
    windows.push(source.slice(start, start + length + 1));
  }
  return windows;
}
