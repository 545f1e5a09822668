import { random } from "../engine/index.js";

export interface GenerateOptions {
  maxNewTokens: number;
  /** 0 means greedy decoding; otherwise logits are divided by it before sampling. Default 1. */
  temperature?: number;
  /** Sample only among the k most likely tokens. */
  topK?: number;
  /** Stop a sequence once it produces this token. */
  eosTokenId?: number | null;
}

export function checkGenerateOptions(opts: GenerateOptions): void {
  if (!Number.isInteger(opts.maxNewTokens) || opts.maxNewTokens < 0) {
    throw new Error(`generate: maxNewTokens must be a non-negative integer, got ${opts.maxNewTokens}`);
  }
  const t = opts.temperature ?? 1;
  if (!(t >= 0) || !Number.isFinite(t)) throw new Error(`generate: temperature must be >= 0, got ${opts.temperature}`);
  if (opts.topK !== undefined && (!Number.isInteger(opts.topK) || opts.topK <= 0)) {
    throw new Error(`generate: topK must be a positive integer, got ${opts.topK}`);
  }
}

/** Picks the next token from one row of logits: argmax at temperature 0, else a seeded sample. */
export function pickToken(logits: ArrayLike<number>, opts: GenerateOptions): number {
  const temperature = opts.temperature ?? 1;
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  if (temperature === 0) return best;
  let order = Array.from({ length: logits.length }, (_, i) => i);
  if (opts.topK !== undefined && opts.topK < logits.length) {
    order.sort((a, b) => logits[b] - logits[a]);
    order = order.slice(0, opts.topK);
  }
  const max = logits[best];
  const weights = order.map((i) => Math.exp((logits[i] - max) / temperature));
  const total = weights.reduce((a, b) => a + b, 0);
  let u = random() * total;
  for (let j = 0; j < order.length; j++) {
    u -= weights[j];
    if (u < 0) return order[j];
  }
  return order[order.length - 1];
}
