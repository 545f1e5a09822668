import { mixSeed, mulberry32 } from "./random.js";

export type SyntheticTask = "copy" | "reverse" | "count";

export interface SyntheticOptions {
  task: SyntheticTask;
  /** Token ids used are 0 (separator) and 1 .. vocabSize - 1 (symbols); at least 3. */
  vocabSize: number;
  /** T: a window holds T + 1 tokens, as `tokenWindows` makes them. */
  length: number;
  /** Number of windows. */
  count: number;
  seed?: number;
}

/** The separator token of the copy and reverse tasks. */
export const SYNTHETIC_SEPARATOR = 0;

/**
 * Windows of a toy task a tiny model learns in a few dozen steps, for fast training tests. With
 * k = floor(T / 2) and symbols drawn uniformly from 1 .. vocabSize - 1:
 *
 * - "count": `s, s+1, s+2, ...` cycling through the symbols from a random start `s`. Every target
 *   is the previous token plus one: a bigram any model learns first; the loss floor is 0.
 * - "copy": k random symbols, the separator 0, the same k symbols again (then 0 when T is odd).
 *   The second half repeats the token k + 1 places back, a fixed-offset lookup for attention.
 * - "reverse": as copy, but the second half is the first half backwards (a mirrored lookup).
 *
 * For copy and reverse only the k - 1 targets inside the random half are unpredictable, so the
 * best mean loss per target is (k - 1) / T * ln(vocabSize - 1); a model that has learned the task
 * gets close to it, one that has not stays near ln(vocabSize).
 */
export function syntheticSequences(options: SyntheticOptions): Int32Array[] {
  const { task, vocabSize, length, count, seed = 0 } = options;
  if (!Number.isInteger(vocabSize) || vocabSize < 3)
    throw new RangeError(`syntheticSequences: vocabSize must be an integer >= 3; got ${vocabSize}`);
  if (!Number.isInteger(length) || length < 2) throw new RangeError(`syntheticSequences: length must be an integer >= 2; got ${length}`);
  if (!Number.isInteger(count) || count < 0) throw new RangeError(`syntheticSequences: count must be a non-negative integer; got ${count}`);
  if (task !== "copy" && task !== "reverse" && task !== "count") {
    throw new RangeError(`syntheticSequences: unknown task ${JSON.stringify(task)}; expected "copy", "reverse" or "count"`);
  }
  const random = mulberry32(mixSeed(seed));
  const symbols = vocabSize - 1;
  const symbol = () => 1 + Math.floor(random() * symbols);
  const k = Math.floor(length / 2);
  const windows: Int32Array[] = [];
  for (let n = 0; n < count; n++) {
    const w = new Int32Array(length + 1).fill(SYNTHETIC_SEPARATOR);
    if (task === "count") {
      const start = symbol() - 1;
      for (let i = 0; i <= length; i++) w[i] = 1 + ((start + i) % symbols);
    } else {
      for (let i = 0; i < k; i++) w[i] = symbol();
      for (let i = 0; i < k; i++) w[k + 1 + i] = task === "copy" ? w[i]! : w[k - 1 - i]!;
    }
    windows.push(w);
  }
  return windows;
}
