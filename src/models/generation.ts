/**
 * Decoding options and the decoding loop every model's `generate` shares, with transformers' names,
 * semantics and order of logits processors: repetition penalty, then (when sampling) temperature,
 * top-k and top-p, then a greedy pick or a seeded sample.
 */
import { random } from "../engine/index.js";

/** Receives tokens as they are produced, as transformers' BaseStreamer (TextStreamer). */
export interface Streamer {
  /** Each step's new tokens, one per sequence of the batch (finished sequences get their padding). */
  put(tokens: number[]): void;
  /** Called once, after the last step. */
  end(): void;
}

export interface GenerateOptions {
  /** How many tokens to add at most (fewer when every sequence stopped). */
  maxNewTokens: number;
  /** 0 means greedy decoding; otherwise logits are divided by it before sampling. Default 1. */
  temperature?: number;
  /** Sample only among the k most likely tokens (ties with the k-th included); 0 or absent: all. */
  topK?: number;
  /** Sample only from the smallest set of most likely tokens whose probability reaches topP (at least one); 1 or absent: all. */
  topP?: number;
  /** transformers' repetition_penalty: logits of tokens already in the sequence are divided by it when positive, multiplied when negative. Default 1. */
  repetitionPenalty?: number;
  /** Stop a sequence once it produces this token, or any of these. */
  eosTokenId?: number | number[] | null;
  /** Keep each layer's keys and values between steps (default); false recomputes the whole context every token. */
  useCache?: boolean;
  /** Called after each step with the new tokens (one per sequence) and the step index from 0. */
  onToken?: (tokens: number[], step: number) => void;
  /** put(new tokens) after each step, end() after the last, as transformers' streamers. */
  streamer?: Streamer;
}

const OPTION_NAMES = [
  "maxNewTokens",
  "temperature",
  "topK",
  "topP",
  "repetitionPenalty",
  "eosTokenId",
  "useCache",
  "onToken",
  "streamer",
] as const;

const camel = (name: string) => name.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase());

/**
 * Checks every option, naming the one that is wrong. `extra` are the model's own options (an
 * attention mask); `vocabSize` bounds the stop tokens.
 */
export function checkGenerateOptions(opts: GenerateOptions, vocabSize: number, extra: readonly string[] = []): void {
  if (typeof opts !== "object" || opts === null) throw new Error(`generate: options must be an object, got ${opts}`);
  const known: readonly string[] = [...OPTION_NAMES, ...extra];
  for (const key of Object.keys(opts)) {
    if (known.includes(key)) continue;
    const hint = known.includes(camel(key)) ? ` (did you mean ${camel(key)}?)` : "";
    throw new Error(`generate: unknown option ${key}${hint}; options: ${known.join(", ")}`);
  }
  if (!Number.isInteger(opts.maxNewTokens) || opts.maxNewTokens < 0) {
    throw new Error(`generate: maxNewTokens must be a non-negative integer, got ${opts.maxNewTokens}`);
  }
  const t = opts.temperature ?? 1;
  if (typeof t !== "number" || !(t >= 0) || !Number.isFinite(t)) {
    throw new Error(`generate: temperature must be a finite number >= 0 (0: greedy), got ${opts.temperature}`);
  }
  if (opts.topK !== undefined && (!Number.isInteger(opts.topK) || opts.topK < 0)) {
    throw new Error(`generate: topK must be a non-negative integer (0: no top-k), got ${opts.topK}`);
  }
  if (opts.topP !== undefined && (typeof opts.topP !== "number" || !(opts.topP >= 0 && opts.topP <= 1))) {
    throw new Error(`generate: topP must be a number in [0, 1], got ${opts.topP}`);
  }
  const penalty = opts.repetitionPenalty;
  if (penalty !== undefined && (typeof penalty !== "number" || !(penalty > 0) || !Number.isFinite(penalty))) {
    throw new Error(`generate: repetitionPenalty must be a finite number > 0 (1: none), got ${penalty}`);
  }
  const eos = opts.eosTokenId;
  if (eos !== undefined && eos !== null) {
    const ids = Array.isArray(eos) ? eos : [eos];
    if (Array.isArray(eos) && eos.length === 0) throw new Error("generate: eosTokenId is an empty list (pass null for no stop token)");
    for (const id of ids) {
      if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
        throw new Error(`generate: eosTokenId ${id} is not a token id in the vocabulary [0, ${vocabSize})`);
      }
    }
  }
  if (opts.useCache !== undefined && typeof opts.useCache !== "boolean") {
    throw new Error(`generate: useCache must be true or false, got ${opts.useCache}`);
  }
  if (opts.onToken !== undefined && typeof opts.onToken !== "function") {
    throw new Error(`generate: onToken must be a function (tokens, step) => void, got ${typeof opts.onToken}`);
  }
  const s = opts.streamer;
  if (s !== undefined && (typeof s !== "object" || s === null || typeof s.put !== "function" || typeof s.end !== "function")) {
    throw new Error("generate: streamer must be an object with put(tokens) and end() methods");
  }
}

/** The stop tokens as a list: the option when given (null: none), else the model's default. */
export function stopTokens(opts: GenerateOptions, fallback: number | number[] | null = null): number[] {
  const eos = opts.eosTokenId === undefined ? fallback : opts.eosTokenId;
  if (eos === null) return [];
  return Array.isArray(eos) ? eos : [eos];
}

/** Sampling or greedy: temperature 0 is greedy, as `do_sample=False`, which skips the warpers. */
const sampling = (opts: GenerateOptions) => (opts.temperature ?? 1) !== 0;

/**
 * transformers' RepetitionPenaltyLogitsProcessor on one row, in place: each distinct token of
 * `seen` has its logit divided by `penalty` when positive, multiplied when negative.
 */
export function applyRepetitionPenalty(logits: Float32Array, seen: Iterable<number>, penalty: number): void {
  for (const id of new Set(seen)) logits[id] = logits[id] < 0 ? logits[id] * penalty : logits[id] / penalty;
}

/** transformers' TopKLogitsWarper on one row, in place: logits below the k-th largest become -Infinity. */
export function applyTopK(logits: Float32Array, k: number): void {
  if (k >= logits.length) return;
  const kth = Float32Array.from(logits).sort()[logits.length - k];
  for (let i = 0; i < logits.length; i++) if (logits[i] < kth) logits[i] = -Infinity;
}

/**
 * transformers' TopPLogitsWarper on one row, in place: in ascending order of logit, tokens whose
 * cumulative probability is still <= 1 - topP are removed; the most likely token always stays.
 */
export function applyTopP(logits: Float32Array, topP: number): void {
  // Tokens already removed (-Infinity, e.g. by top-k) have probability 0: only the others are sorted.
  const order = Array.from(logits.keys())
    .filter((i) => logits[i] > -Infinity)
    .sort((a, b) => logits[a] - logits[b]);
  const max = logits[order[order.length - 1]];
  const weights = order.map((i) => Math.exp(logits[i] - max));
  const total = weights.reduce((a, b) => a + b, 0);
  const limit = Math.fround(1 - topP);
  let cumulative = 0;
  for (let j = 0; j < order.length - 1; j++) {
    cumulative += weights[j] / total;
    if (cumulative > limit) break;
    logits[order[j]] = -Infinity;
  }
}

/**
 * The logits processors of `generate` on one row, in transformers' order: repetition penalty over
 * `seen` (the tokens already in the sequence), then, when sampling, temperature, top-k and top-p.
 * Returns a new row; removed tokens are -Infinity.
 */
export function processLogits(logits: ArrayLike<number>, seen: Iterable<number>, opts: GenerateOptions): Float32Array {
  const out = Float32Array.from(logits);
  const penalty = opts.repetitionPenalty ?? 1;
  if (penalty !== 1) applyRepetitionPenalty(out, seen, penalty);
  if (!sampling(opts)) return out;
  const temperature = opts.temperature ?? 1;
  if (temperature !== 1) {
    const t = Math.fround(temperature);
    for (let i = 0; i < out.length; i++) out[i] = out[i] / t;
  }
  if (opts.topK) applyTopK(out, opts.topK);
  if (opts.topP !== undefined && opts.topP < 1) applyTopP(out, opts.topP);
  return out;
}

/** The argmax of processed logits when greedy (the first on ties), else a seeded sample from their softmax. */
export function pickToken(processed: Float32Array, opts: GenerateOptions): number {
  let best = 0;
  for (let i = 1; i < processed.length; i++) if (processed[i] > processed[best]) best = i;
  if (!sampling(opts)) return best;
  const max = processed[best];
  const weights = Array.from(processed, (l) => Math.exp(l - max)); // -Infinity: weight 0
  const total = weights.reduce((a, b) => a + b, 0);
  let u = random() * total;
  for (let i = 0; i < weights.length; i++) {
    u -= weights[i];
    if (u < 0) return i;
  }
  return best;
}

export interface DecodeLoop {
  /** Each sequence so far; new tokens are pushed onto them. */
  rows: number[][];
  /** Per row, the first position the repetition penalty counts (after left padding). */
  firstCounted: number[];
  /** The token a finished sequence is padded with while the others go on. */
  padTokenId: number;
  stopTokens: number[];
  /** Logits of the next token, [B * V] row-major, for the rows as they are now. */
  nextLogits(): Float32Array;
}

/**
 * Runs `maxNewTokens` steps (fewer once every sequence has produced a stop token): processes each
 * row's logits, picks its token, pads finished rows, streams, and returns the rows.
 */
export function decodeLoop(loop: DecodeLoop, opts: GenerateOptions): number[][] {
  const { rows, firstCounted, padTokenId } = loop;
  const stop = new Set(loop.stopTokens);
  const done = rows.map(() => false);
  for (let step = 0; step < opts.maxNewTokens && done.some((d) => !d); step++) {
    const logits = loop.nextLogits();
    const V = logits.length / rows.length;
    const tokens = rows.map((row, b) => {
      if (done[b]) return padTokenId;
      const processed = processLogits(logits.subarray(b * V, (b + 1) * V), row.slice(firstCounted[b]), opts);
      return pickToken(processed, opts);
    });
    tokens.forEach((token, b) => {
      rows[b].push(token);
      if (stop.has(token)) done[b] = true;
    });
    opts.onToken?.(tokens, step);
    opts.streamer?.put(tokens);
  }
  opts.streamer?.end();
  return rows;
}
