import { mixSeed, mulberry32, permutation } from "./random.js";

export interface SplitOptions {
  /** Share of documents held out for validation, in (0, 1). */
  validationFraction?: number;
  seed?: number;
}

export interface Split<T> {
  train: T[];
  validation: T[];
}

/**
 * Splits whole documents (never one document across both sides) into train and validation by a
 * seeded shuffle: round(n * validationFraction) documents go to validation, clamped so each side
 * has at least one when there are two or more. Both sides keep the input order.
 */
export function splitDocuments<T>(docs: readonly T[], options: SplitOptions = {}): Split<T> {
  const { validationFraction = 0.1, seed = 0 } = options;
  if (!(validationFraction > 0 && validationFraction < 1)) {
    throw new RangeError(`splitDocuments: validationFraction must be in (0, 1); got ${validationFraction}`);
  }
  const n = docs.length;
  if (n < 2) return { train: [...docs], validation: [] };
  const count = Math.min(n - 1, Math.max(1, Math.round(n * validationFraction)));
  const held = new Set(permutation(n, mulberry32(mixSeed(seed))).slice(0, count));
  const split: Split<T> = { train: [], validation: [] };
  docs.forEach((doc, i) => (held.has(i) ? split.validation : split.train).push(doc));
  return split;
}
