import { mixSeed, mulberry32, permutation } from "./random.js";

/** How a dataset is cut into batches, epoch after epoch. */
export interface EpochOptions {
  batchSize: number;
  seed?: number;
  /** Visit items in a fresh seeded order each epoch (default) or in the given order. */
  shuffle?: boolean;
  /** Skip a last batch smaller than batchSize (default), so every batch has the same shape. */
  dropLast?: boolean;
}

/**
 * Batches of `count` items, one epoch per pass over the iterator, ordered by (seed, epoch): a
 * run's data order is reproducible and `epochBatches(k)` gives any epoch's batches directly.
 * Subclasses say how a batch is assembled from its rows' item indices.
 */
export abstract class EpochBatches<B> implements Iterable<B> {
  readonly batchSize: number;
  readonly seed: number;
  readonly shuffle: boolean;
  readonly dropLast: boolean;
  /** The epoch the next pass over the iterator yields. */
  epoch = 0;

  /** `caller` and `items` name the function and what it batches in errors ("batches", "windows"). */
  constructor(
    private readonly count: number,
    options: EpochOptions,
    caller: string,
    items: string,
  ) {
    const { batchSize, seed = 0, shuffle = true, dropLast = true } = options;
    if (!Number.isInteger(batchSize) || batchSize < 1)
      throw new RangeError(`${caller}: batchSize must be a positive integer; got ${batchSize}`);
    if (count === 0) throw new RangeError(`${caller}: no ${items} to batch`);
    this.batchSize = batchSize;
    this.seed = seed;
    this.shuffle = shuffle;
    this.dropLast = dropLast;
  }

  /** Batches per epoch. */
  get numBatches(): number {
    const n = this.count / this.batchSize;
    return this.dropLast ? Math.floor(n) : Math.ceil(n);
  }

  /** Yields the next epoch's batches and advances `epoch`. */
  *[Symbol.iterator](): Iterator<B> {
    yield* this.epochBatches(this.epoch++);
  }

  /** The batches of epoch `epoch`, without touching `this.epoch`. */
  *epochBatches(epoch: number): Generator<B> {
    const n = this.count;
    const order = this.shuffle ? permutation(n, mulberry32(mixSeed(this.seed, epoch))) : Array.from({ length: n }, (_, i) => i);
    for (let b = 0; b < this.numBatches; b++) {
      yield this.assemble(order.slice(b * this.batchSize, (b + 1) * this.batchSize));
    }
  }

  /** One batch from the item indices of its rows. */
  protected abstract assemble(rows: number[]): B;
}
