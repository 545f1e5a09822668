import {
  BROWN_GENRES,
  EpochBatches,
  batchStream,
  batches,
  brownDocuments,
  causalLmData,
  documentSeparator,
  instructData,
  resolveBrownGenres,
  sotuSplit,
  splitDocuments,
  tokenWindows,
  type BrownDocument,
  type SotuFilter,
  type Dataset,
  type LmData,
  type PrepareReport,
} from "../data/index.js";
import { ByteTokenizer, type ChatTemplate, type Tokenizer } from "../tokenizers/index.js";
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
  docs: readonly { text: string }[],
  tokenizer: Tokenizer,
  windowLength: number,
  stride = windowLength,
): Int32Array[] {
  const separator = documentSeparator(tokenizer);
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

/**
 * The forgetting demo's new domains: Brown's genre J ("learned", academic prose; the default, as
 * every notebook) or the State of the Union addresses (political speeches of 1790-2021: a topic
 * and register of their own; bench/domain-gap.ts measures how far either is from a base's
 * pretraining text). Both are never seen in pretraining, and both are split by whole document,
 * 10% held out, seed 0.
 */
export const FORGETTING_DOMAINS = ["brown-j", "sotu"] as const;
export type ForgettingDomain = (typeof FORGETTING_DOMAINS)[number];

export interface ForgettingData {
  /** New-domain training windows. */
  domainTrain: Int32Array[];
  /** Eval batches: the new domain's held-out documents, then the retained sets. */
  domainEval: TokenBatch[];
  retain: { press: TokenBatch[]; fiction: TokenBatch[] };
  /** General training windows (the pretraining side), for replay and EWC's Fisher; tokenized on first read. */
  readonly general: Int32Array[];
}

export interface ForgettingDataOptions {
  tokenizer: Tokenizer;
  windowLength: number;
  /** Windows per eval set (spread over its documents). */
  evalWindows: number;
  evalBatchSize: number;
  /** The new domain; default "brown-j". */
  domain?: ForgettingDomain;
  /** For domain "sotu": which speeches (both sides of the fixed split narrowed; default all). */
  sotu?: SotuFilter;
}

/** A new domain's documents, train / held out (the forgetting demo's split of J or of the speeches). */
export function domainSplit(
  domain: ForgettingDomain,
  sotu: SotuFilter | undefined,
): { train: { text: string }[]; heldOut: { text: string }[] } {
  if (domain === "sotu") return sotuSplit(sotu);
  if (domain !== "brown-j")
    throw new Error(`forgettingData: unknown domain ${JSON.stringify(domain)}; expected ${FORGETTING_DOMAINS.join(" or ")}`);
  if (sotu !== undefined) throw new Error('forgettingData: the sotu filter applies to domain "sotu" only; got domain "brown-j"');
  const split = splitDocuments(brownDocuments(DOMAIN_GENRE), { validationFraction: HELD_OUT_FRACTION, seed: SPLIT_SEED });
  return { train: split.train, heldOut: split.validation };
}

/** The forgetting demo's data: the new domain (J or SOTU), held-out press and fiction for what must be retained. */
export function forgettingData(options: ForgettingDataOptions): ForgettingData {
  const { tokenizer, windowLength: T, evalWindows, evalBatchSize, domain: name = "brown-j" } = options;
  const domain = domainSplit(name, options.sotu);
  const press = generalSplit(PRESS_GENRES).heldOut;
  const fiction = generalSplit(FICTION_GENRES).heldOut;
  const evalSet = (docs: { text: string }[]) => evalBatches(spreadWindows(documentWindows(docs, tokenizer, T), evalWindows), evalBatchSize);
  // General text is the pretraining side, the largest set (4.5 M characters): only replay and EWC
  // read it, and a BPE takes one to several seconds a megabyte, so it is tokenized when first read.
  let general: Int32Array[] | undefined;
  return {
    domainTrain: documentWindows(domain.train, tokenizer, T),
    domainEval: evalSet(domain.heldOut),
    retain: { press: evalSet(press), fiction: evalSet(fiction) },
    get general() {
      return (general ??= documentWindows(generalSplit().train, tokenizer, T));
    },
  };
}

/** What one position of a window is, for printed units ("nats/byte", "nats/token"). */
export function tokenUnit(tokenizer: Tokenizer): "byte" | "token" {
  return tokenizer instanceof ByteTokenizer ? "byte" : "token";
}

/** The experiment's training data: token windows (batched with the run's seed), or prepared batches such as `LmData.batches()`. */
export type DomainTrainData = readonly Int32Array[] | EpochBatches<TokenBatch>;

/**
 * The endless training stream for one strategy, the same for every strategy: windows are batched
 * with `seed`; prepared batches are replayed from epoch 0 (their own seed orders them).
 */
export function domainBatches(train: DomainTrainData, batchSize: number, seed: number): Iterator<TokenBatch> {
  if (!(train instanceof EpochBatches)) return batchStream(train, { batchSize, seed })[Symbol.iterator]();
  if (train.batchSize !== batchSize)
    throw new Error(`runForgettingExperiment: domain.train makes batches of ${train.batchSize} rows but batchSize is ${batchSize}`);
  if (train.numBatches === 0)
    throw new RangeError("runForgettingExperiment: domain.train makes no batch; lower batchSize or pass dropLast: false");
  return (function* endless() {
    for (let epoch = 0; ; epoch++) yield* train.epochBatches(epoch);
  })();
}

export interface UserForgettingDataOptions {
  tokenizer: Tokenizer;
  /**
   * The user's fine-tuning records (`loadDataset(...)`): text records are packed into windows;
   * prompt/completion or messages records become instruction data with the loss on the completion.
   */
  domain: Dataset;
  /** The "old knowledge" to keep, by name: text records whose loss is watched (e.g. general text, another task). */
  retain: Record<string, Dataset>;
  /** General text for replay and EWC's Fisher (only needed by strategies that use them). */
  general?: Dataset;
  /** T: tokens per row. */
  maxLength: number;
  /** Rows per training batch: the experiment's batchSize. */
  batchSize: number;
  /** Rows per eval batch. Default batchSize. */
  evalBatchSize?: number;
  /** Windows per retained eval set, spread over its text (default: all). */
  evalWindows?: number;
  /** Share of the domain records held out as its eval set. Default 0.1. */
  validationFraction?: number;
  /** Orders the held-out split and the training batches; pass the experiment's seed. Default 0. */
  seed?: number;
  /** "auto" (default): instruction data when the records have `messages` or `prompt` + `completion`. */
  kind?: "auto" | "text" | "instruct";
  chatTemplate?: ChatTemplate;
  /** Text field of text records. Default "text". */
  textField?: string;
}

export interface UserForgettingData {
  domain: { train: EpochBatches<TokenBatch>; eval: TokenBatch[] };
  retain: Record<string, TokenBatch[]>;
  general?: Int32Array[];
  /** What preparation left out, per set ("domain.train", "domain.eval", each retained name, "general"). */
  reports: Record<string, PrepareReport>;
}

/**
 * The forgetting experiment's data from the user's own files: `runForgettingExperiment({ base,
 * ...userForgettingData({ tokenizer, domain, retain: { general: wiki } , ... }), strategies, ... })`
 * answers "does fine-tuning on my data make it forget this?" in one call.
 */
export function userForgettingData(options: UserForgettingDataOptions): UserForgettingData {
  const { tokenizer, maxLength, batchSize, seed = 0, textField, chatTemplate } = options;
  const evalBatchSize = options.evalBatchSize ?? batchSize;
  const split = options.domain.trainTestSplit({ testSize: options.validationFraction ?? 0.1, seed });
  const first = options.domain.records[0] ?? {};
  const instruct =
    options.kind === "instruct" || (options.kind !== "text" && ("messages" in first || ("prompt" in first && "completion" in first)));
  const prepare = (ds: Dataset): LmData =>
    instruct ? instructData(ds, { tokenizer, maxLength, chatTemplate }) : causalLmData(ds, { tokenizer, maxLength, textField });
  const windows = (ds: Dataset): Int32Array[] => causalLmData(ds, { tokenizer, maxLength, textField }).examples.map((e) => e.inputIds);
  const train = prepare(split.train);
  const held = prepare(split.test);
  const reports: Record<string, PrepareReport> = { "domain.train": train.report, "domain.eval": held.report };
  const retain: Record<string, TokenBatch[]> = {};
  for (const [name, ds] of Object.entries(options.retain)) {
    const data = causalLmData(ds, { tokenizer, maxLength, textField });
    reports[name] = data.report;
    const all = data.examples.map((e) => e.inputIds);
    retain[name] = evalBatches(spreadWindows(all, options.evalWindows ?? all.length), Math.min(evalBatchSize, all.length));
  }
  const out: UserForgettingData = {
    // Instruction rows are padded to T so replay can put general windows (T + 1 tokens) in their place.
    domain: {
      train: train.batches({ batchSize, seed, padTo: train.packed ? undefined : maxLength }),
      eval: held.evalBatches(evalBatchSize),
    },
    retain,
    reports,
  };
  if (options.general) out.general = windows(options.general);
  return out;
}
