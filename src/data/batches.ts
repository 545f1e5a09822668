import { EpochBatches, type EpochOptions } from "./epochs.js";

/** One training batch, row-major: row b is `inputIds[b*T .. (b+1)*T)`. */
export interface Batch {
  inputIds: Int32Array;
  targets: Int32Array;
  /** [B, T] */
  shape: [number, number];
}

export type BatchOptions = EpochOptions;

/**
 * Batches of windows (each `T + 1` tokens, as `tokenWindows` makes them). Each pass over the
 * iterator is one epoch, ordered by (seed, epoch), so a run's data order is reproducible and
 * `epochBatches(k)` gives any epoch's batches directly.
 */
export class BatchIterator extends EpochBatches<Batch> {
  /** T: tokens per input row. */
  readonly length: number;
  private readonly windows: readonly Int32Array[];

  constructor(windows: readonly ArrayLike<number>[], options: BatchOptions) {
    super(windows.length, options, "batches", "windows");
    const width = windows[0]!.length;
    if (width < 2) throw new RangeError(`batches: windows need at least 2 tokens (T + 1); got ${width}`);
    windows.forEach((w, i) => {
      if (w.length !== width)
        throw new RangeError(`batches: window ${i} has ${w.length} tokens, window 0 has ${width}; all must have the same length`);
    });
    this.windows = windows.map((w) => (w instanceof Int32Array ? w : Int32Array.from(w)));
    this.length = width - 1;
  }

  protected assemble(rows: number[]): Batch {
    const T = this.length;
    const inputIds = new Int32Array(rows.length * T);
    const targets = new Int32Array(rows.length * T);
    rows.forEach((w, r) => {
      const window = this.windows[w]!;
      inputIds.set(window.subarray(0, T), r * T);
      targets.set(window.subarray(1, T + 1), r * T);
    });
    return { inputIds, targets, shape: [rows.length, T] };
  }
}

/** Batches of `windows`, one epoch per pass; see `BatchIterator`. */
export function batches(windows: readonly ArrayLike<number>[], options: BatchOptions): BatchIterator {
  return new BatchIterator(windows, options);
}

/** An endless stream of batches, epoch after epoch, for step-based training loops. */
export function batchStream(windows: readonly ArrayLike<number>[], options: BatchOptions): Generator<Batch, never> {
  // Checked here, not inside the generator, so bad options fail at the call rather than the first step.
  const iterator = new BatchIterator(windows, options);
  if (iterator.numBatches === 0) {
    throw new RangeError(
      `batchStream: ${windows.length} windows make no batch of ${iterator.batchSize} with dropLast; lower batchSize or pass dropLast: false`,
    );
  }
  return (function* endless(): Generator<Batch, never> {
    for (;;) for (const batch of iterator) yield batch;
  })();
}
