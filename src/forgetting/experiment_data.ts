import {
  BROWN_GENRES,
  batches,
  brownDocuments,
  resolveBrownGenres,
  splitDocuments,
  tokenWindows,
  type BrownDocument,
} from "../data/index.js";
import type { Tokenizer } from "../tokenizers/index.js";
import type { TokenBatch } from "../train/index.js";

/**
 * The one split of the Brown corpus that pretraining and the forgetting demo share, so the demo's
 * retained sets are never seen in pretraining:
 * - the new domain is genre J ("learned"), never used in pretraining;
 * - every other genre is split by document (10% held out, seed 0, per genre); pretraining trains on
 *   the rest and reports its validation loss on the held-out documents;
 * - the demo's retained sets are the held-out documents of the press genres (A-C) and the fiction
 *   genres (K-P).
 */
export const DOMAIN_GENRE = "j";
export const PRESS_GENRES = ["a", "b", "c"] as const;
export const FICTION_GENRES = ["k", "l", "m", "n", "p"] as const;
export const GENERAL_GENRES = Object.keys(BROWN_GENRES).filter((g) => g !== DOMAIN_GENRE);
export const HELD_OUT_FRACTION = 0.1;
export const SPLIT_SEED = 0;

export interface GeneralSplit {
  train: BrownDocument[];
  heldOut: BrownDocument[];
}

/** Per genre, whole documents split train / held out; both sides in genre then id order. */
export function generalSplit(genres: readonly string[] = GENERAL_GENRES): GeneralSplit {
  const out: GeneralSplit = { train: [], heldOut: [] };
  for (const genre of resolveBrownGenres(genres)) {
    if (genre === BROWN_GENRES[DOMAIN_GENRE])
      throw new Error(`generalSplit: genre "${genre}" is the forgetting demo's new domain and must stay out of general text`);
    const split = splitDocuments(brownDocuments(genre), { validationFraction: HELD_OUT_FRACTION, seed: SPLIT_SEED });
    out.train.push(...split.train);
    out.heldOut.push(...split.validation);
  }
  return out;
}

/** Documents joined into one stream (a blank line between them, as makeLmDataset) and cut into windows of T + 1 tokens. */
export function documentWindows(
  docs: readonly BrownDocument[],
  tokenizer: Tokenizer,
  windowLength: number,
  stride = windowLength,
): Int32Array[] {
  const separator = tokenizer.eosTokenId !== undefined ? [tokenizer.eosTokenId] : tokenizer.encode("\n\n");
  const ids: number[] = [];
  docs.forEach((doc, i) => {
    if (i > 0) ids.push(...separator);
    for (const id of tokenizer.encode(doc.text)) ids.push(id);
  });
  return tokenWindows(ids, { length: windowLength, stride });
}

/** `count` windows spread evenly over the list (every k-th), so a small eval set covers every document. */
export function spreadWindows(windows: readonly Int32Array[], count: number): Int32Array[] {
  if (count >= windows.length) return [...windows];
  return Array.from({ length: count }, (_, i) => windows[Math.floor((i * windows.length) / count)]);
}

/** Windows into fixed [B, T] batches, in order (eval sets: the same batches every time). */
export function evalBatches(windows: readonly Int32Array[], batchSize: number): TokenBatch[] {
  return [...batches(windows, { batchSize, shuffle: false, dropLast: true })];
}

export interface ForgettingData {
  /** New-domain (J) training windows. */
  domainTrain: Int32Array[];
  /** Eval batches: the new domain's held-out documents, then the retained sets. */
  domainEval: TokenBatch[];
  retain: { press: TokenBatch[]; fiction: TokenBatch[] };
  /** General training windows (the pretraining side), for replay and EWC's Fisher. */
  general: Int32Array[];
}

export interface ForgettingDataOptions {
  tokenizer: Tokenizer;
  windowLength: number;
  /** Windows per eval set (spread over its documents). */
  evalWindows: number;
  evalBatchSize: number;
}

/** The forgetting demo's data: J for the new domain, held-out press and fiction for what must be retained. */
export function forgettingData(options: ForgettingDataOptions): ForgettingData {
  const { tokenizer, windowLength: T, evalWindows, evalBatchSize } = options;
  const domain = splitDocuments(brownDocuments(DOMAIN_GENRE), { validationFraction: HELD_OUT_FRACTION, seed: SPLIT_SEED });
  const press = generalSplit(PRESS_GENRES).heldOut;
  const fiction = generalSplit(FICTION_GENRES).heldOut;
  const evalSet = (docs: BrownDocument[]) => evalBatches(spreadWindows(documentWindows(docs, tokenizer, T), evalWindows), evalBatchSize);
  return {
    domainTrain: documentWindows(domain.train, tokenizer, T),
    domainEval: evalSet(domain.validation),
    retain: { press: evalSet(press), fiction: evalSet(fiction) },
    general: documentWindows(generalSplit().train, tokenizer, T),
  };
}
