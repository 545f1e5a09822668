import { batchStream } from "../data/index.js";
import type { TokenBatch, TrainOptions } from "./types.js";

/**
 * The training batches `opts.data` stands for, one per micro-step: token windows are batched with
 * `batchSize` and `seed`; an iterator is read once; an iterable is passed over again and again.
 */
export function trainingBatches(opts: Pick<TrainOptions, "data" | "batchSize" | "seed">): Iterator<TokenBatch> {
  const data = opts.data as unknown;
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
