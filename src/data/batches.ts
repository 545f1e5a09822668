import { mixSeed, mulberry32, permutation } from "./random.js";

/** One training batch, row-major: row b is `inputIds[b*T .. (b+1)*T)`. */
export interface Batch {
  inputIds: Int32Array;
  targets: Int32Array;
  /** [B, T] */
  shape: [number, number];
}

export interface BatchOptions {
  batchSize: number;
  seed?: number;
  /** Visit windows in a fresh seeded order each epoch (default) or in the given order. */
  shuffle?: boolean;
  /** Skip a last batch smaller than batchSize (default), so every batch has the same shape. */
  dropLast?: boolean;
}

/**
 * Batches of windows (each `T + 1` tokens, as `tokenWindows` makes them). Each pass over the
 * iterator is one epoch, ordered by (seed, epoch), so a run's data order is reproducible and
 * `epochBatches(k)` gives any epoch's batches directly.
 */
export class BatchIterator implements Iterable<Batch> {
  readonly batchSize: number;
  readonly seed: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  /** T: tokens per input row. */
  readonly length: number;
  /** The epoch the next pass over the iterator yields. */
  epoch = 0;
  private readonly windows: readonly Int32Array[];

  constructor(windows: readonly ArrayLike<number>[], options: BatchOptions) {
    const { batchSize, seed = 0, shuffle = true, dropLast = true } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batches: batchSize must be a positive integer; got ${batchSize}`);
    if (windows.length === 0) throw new RangeError("batches: no windows to batch");
    const width = windows[0]!.length;
    if (width < 2) throw new RangeError(`batches: windows need at least 2 tokens (T + 1); got ${width}`);
    windows.forEach((w, i) => {
      if (w.length !== width) throw new RangeError(`batches: window ${i} has ${w.length} tokens, window 0 has ${width}; all must have the same length`);
    });
    this.windows = windows.map((w) => (w instanceof Int32Array ? w : Int32Array.from(w)));
    this.batchSize = batchSize;
    this.seed = seed;
    this.shuffle = shuffle;
    this.dropLast = dropLast;
    this.length = width - 1;
  }

  /** Batches per epoch. */
  get numBatches(): number {
    const n = this.windows.length / this.batchSize;
    return this.dropLast ? Math.floor(n) : Math.ceil(n);
  }

  /** Yields the next epoch's batches and advances `epoch`. */
  *[Symbol.iterator](): Iterator<Batch> {
    yield* this.epochBatches(this.epoch++);
  }

  /** The batches of epoch `epoch`, without touching `this.epoch`. */
  *epochBatches(epoch: number): Generator<Batch> {
    const n = this.windows.length;
    const order = this.shuffle ? permutation(n, mulberry32(mixSeed(this.seed, epoch))) : Array.from({ length: n }, (_, i) => i);
    for (let b = 0; b < this.numBatches; b++) {
      yield this.assemble(order.slice(b * this.batchSize, (b + 1) * this.batchSize));
    }
  }

  private assemble(rows: number[]): Batch {
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
    throw new RangeError(`batchStream: ${windows.length} windows make no batch of ${iterator.batchSize} with dropLast; lower batchSize or pass dropLast: false`);
  }
  return (function* endless(): Generator<Batch, never> {
    for (;;) for (const batch of iterator) yield batch;
  })();
}
