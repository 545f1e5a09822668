import { mulberry32 } from "../data/index.js";
import type { TokenBatch } from "../train/index.js";

export interface ReplayOptions {
  /** Share of each batch's rows replaced by general-text windows, in [0, 1]; rounded to whole rows. */
  fraction: number;
  /** Seeds which general windows are drawn. Default 0. */
  seed?: number;
}

/** Iterators are read once; iterables are passed over epoch after epoch, as `train` does. */
function* source(data: Iterator<TokenBatch> | Iterable<TokenBatch>): Generator<TokenBatch, void> {
  if (typeof (data as Iterator<TokenBatch>).next === "function") {
    const it = data as Iterator<TokenBatch>;
    for (let r = it.next(); !r.done; r = it.next()) yield r.value;
    return;
  }
  for (;;) {
    let any = false;
    for (const b of data as Iterable<TokenBatch>) {
      any = true;
      yield b;
    }
    if (!any) return;
  }
}

/**
 * Replay: wraps training batches so the last round(fraction * B) rows of each are general-text
 * windows (T + 1 tokens, as `tokenWindows` makes them) drawn by a seeded PRNG. Fraction 0 yields
 * the original batches unchanged.
 */
export function* withReplay(
  data: Iterator<TokenBatch> | Iterable<TokenBatch>,
  general: readonly ArrayLike<number>[],
  options: ReplayOptions,
): Generator<TokenBatch, void> {
  const { fraction, seed = 0 } = options;
  if (!(fraction >= 0 && fraction <= 1)) throw new RangeError(`withReplay: fraction must be in [0, 1], got ${fraction}`);
  if (fraction > 0 && general.length === 0) throw new RangeError("withReplay: no general-text windows to replay");
  const random = mulberry32(seed);
  for (const batch of source(data)) {
    const [B, T] = batch.shape;
    const k = Math.round(fraction * B);
    if (k === 0) {
      yield batch;
      continue;
    }
    const inputIds = batch.inputIds.slice();
    const targets = batch.targets.slice();
    for (let row = B - k; row < B; row++) {
      const w = general[Math.floor(random() * general.length)];
      if (w.length !== T + 1)
        throw new RangeError(`withReplay: general windows must have T + 1 = ${T + 1} tokens to match the batches; got ${w.length}`);
      for (let t = 0; t < T; t++) {
        inputIds[row * T + t] = w[t];
        targets[row * T + t] = w[t + 1];
      }
    }
    yield { inputIds, targets, shape: [B, T] };
  }
}
