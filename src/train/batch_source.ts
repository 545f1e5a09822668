import { batchStream } from "../data/index.js";
import type { TokenBatch, TrainOptions } from "./types.js";

/**
 * The training batches `opts.data` stands for, one per micro-step: token windows are batched with
 * `batchSize` and `seed`; an iterator is read once; an iterable is passed over again and again.
 */
export function trainingBatches(opts: Pick<TrainOptions, "data" | "batchSize" | "seed">): Iterator<TokenBatch> {
  const data = opts.data as unknown;
  if (Array.isArray(data) && data.length === 0) throw new Error("train: data is an empty array: there is nothing to train on");
  if (Array.isArray(data) && data.length > 0 && !("inputIds" in data[0])) {
    if (opts.batchSize === undefined) throw new Error("train: data is a list of token windows, so batchSize is required");
    return batchStream(data as ArrayLike<number>[], { batchSize: opts.batchSize, seed: opts.seed ?? 0 });
  }
  if (typeof (data as Iterator<TokenBatch>).next === "function") return data as Iterator<TokenBatch>;
  if (data && typeof (data as Iterable<TokenBatch>)[Symbol.iterator] === "function") return epochs(data as Iterable<TokenBatch>);
  throw new Error("train: data must be an iterator or iterable of { inputIds, targets, shape } batches, or an array of token windows");
}

/** Passes over an iterable again and again, as transformers' Trainer does until max_steps. */
function* epochs(data: Iterable<TokenBatch>): Generator<TokenBatch, void> {
  for (;;) {
    let any = false;
    for (const batch of data) {
      any = true;
      yield batch;
    }
    if (!any) return;
  }
}

/** An iterator of batches that counts what it has handed out, for the message when it runs out. */
export interface CountedBatches extends Iterator<TokenBatch> {
  readonly read: number;
}

export function countBatches(data: Iterator<TokenBatch>): CountedBatches {
  const counted = {
    read: 0,
    next(): IteratorResult<TokenBatch> {
      const r = data.next();
      if (!r.done) counted.read++;
      return r;
    },
  };
  return counted;
}

/**
 * The data ran out after `done` of `steps` optimizer steps. With no step done nothing was trained:
 * that is an error (an empty dataset, or an iterator already used up). Otherwise it warns with the
 * counts and training ends there, as transformers' Trainer does when an IterableDataset runs out
 * before max_steps (it logs a warning and stops): the steps done are kept and returned, and a
 * user who wanted a fixed number of passes gets told rather than stopped.
 */
export function dataRanOut(done: number, steps: number, read: number, accumulation: number): void {
  const batches = `${read} batch${read === 1 ? "" : "es"}`;
  if (done === 0) {
    throw new Error(
      read === 0
        ? "train: the data gave no batches: there is nothing to train on (an empty dataset, or an iterator that was already read to the end?)"
        : `train: the data gave ${batches}, fewer than the ${accumulation} micro-batches of one optimizer step (gradientAccumulationSteps)`,
    );
  }
  const unused = read - done * accumulation;
  console.warn(
    `train: the data ran out after ${done} of ${steps} steps (${batches} read` +
      (unused > 0 ? `; the last ${unused} did not fill a step of ${accumulation} micro-batches and were not used` : "") +
      "); training stopped early. An iterator is read once: pass an array or another iterable to go over the data again, or lower steps.",
  );
}
