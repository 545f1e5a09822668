import * as tf from "@tensorflow/tfjs";
import { lmHeadLoss, type Module } from "../nn/index.js";
import { checkGenerateOptions, decodeLoop, stopTokens, type GenerateOptions } from "./generation.js";
import { toIdTensor, type TokenInput } from "./inputs.js";
import { DynamicCache } from "./kv_cache.js";

/** What a decoder-only forward takes besides the ids, as transformers' (attention_mask, position_ids, past_key_values). */
export interface CausalForwardOptions {
  /** 1 for tokens, 0 for padding, [B, P + T]: the P cached positions, then the present ones. All ones when omitted. */
  attentionMask?: TokenInput;
  /** The position of each present token, [B, T]; P..P+T-1 after P cached positions when omitted. */
  positionIds?: TokenInput;
  /** Keys and values of the earlier positions; the forward appends the present ones. */
  pastKeyValues?: DynamicCache;
  /** Logits of the last n positions only, [B, n, V] (transformers' logits_to_keep; generation needs 1); 0 or absent: all. */
  logitsToKeep?: number;
}

/** The last `n` positions of hidden states [B, T, C] (all when n is 0 or absent), before the LM head. */
export function lastPositions(h: tf.Tensor, n = 0): tf.Tensor {
  if (!Number.isInteger(n) || n < 0) throw new Error(`logitsToKeep must be a non-negative integer, got ${n}`);
  const [B, T, C] = h.shape as [number, number, number];
  return n === 0 || n >= T ? h : h.slice([0, T - n, 0], [B, n, C]);
}

/** generate's options for a decoder-only model. */
/**
 * Mean next-token cross-entropy of a decoder-only model from its final hidden states [B, T, C]
 * and its LM head; `targets` are aligned with the inputs (targets[t] is the token after ids[t]),
 * negative ones ignored. One place for GPT-2's and LLaMA's `loss`.
 */
export function causalLmLoss(hidden: tf.Tensor, head: Module, targets: TokenInput, vocabSize: number): tf.Scalar {
  return tf.tidy(() => {
    const t = toIdTensor(targets, vocabSize, "targets", true);
    if (!tf.util.arraysEqual(hidden.shape.slice(0, 2), t.shape)) {
      throw new Error(`targets shape [${t.shape}] does not match input ids shape [${hidden.shape.slice(0, 2)}]`);
    }
    return lmHeadLoss(hidden, head, t);
  });
}

export interface CausalGenerateOptions extends GenerateOptions {
  /** 1 for tokens, 0 for padding, [B, T]: prompts of different lengths, left-padded (padding first). */
  attentionMask?: TokenInput;
}

/** What a decoder-only model offers generation: logits [B, T, V] for id rows [B, T]. */
export interface CausalLM extends Module {
  forward(ids: TokenInput, opts?: CausalForwardOptions): tf.Tensor3D;
}

export interface CausalModelSpec {
  /** Positions the model can take (n_positions, max_position_embeddings): longer contexts are cropped to the last ones. */
  contextLength: number;
  vocabSize: number;
  /** What a finished sequence is padded with; the first stop token when null. */
  padTokenId?: number | null;
}

/** transformers' positions for a padded batch (prepare_inputs_for_generation): cumsum(mask) - 1, and 1 at padding. */
export function positionsFromMask(mask: number[][]): number[][] {
  return mask.map((row) => {
    let seen = 0;
    return row.map((m) => (m ? seen++ : 1));
  });
}

/** The number of leading padding positions of each row, after checking that the mask pads on the left only. */
function leftPadding(mask: TokenInput | undefined, rows: number[][]): number[] {
  if (mask === undefined) return rows.map(() => 0);
  const m = toIdTensor(mask, 2, "attention mask");
  const values = m.arraySync() as number[][];
  m.dispose();
  if (values.length !== rows.length || values[0].length !== rows[0].length) {
    throw new Error(
      `generate: attention mask shape [${values.length},${values[0].length}] does not match input ids shape [${rows.length},${rows[0].length}]`,
    );
  }
  return values.map((row, b) => {
    const first = row.indexOf(1);
    if (first < 0) throw new Error(`generate: attention mask row ${b} is all padding: every prompt needs a token`);
    const gap = row.indexOf(0, first);
    if (gap >= 0) {
      throw new Error(
        `generate: attention mask row ${b} has padding at position ${gap} after a token at ${first}; ` +
          "a decoder-only model continues the end of each row, so pad prompts on the left",
      );
    }
    return first;
  });
}

/**
 * The decoding loop of a decoder-only model: continues each prompt by `maxNewTokens` tokens
 * (see `decodeLoop` for the processors and stopping). With the cache (default) the prompt is run
 * once and each step feeds the new token; without it every step recomputes the context. Once a
 * sequence outgrows `contextLength`, both crop it to the last `contextLength` tokens (the cache is
 * dropped, as its positions no longer fit). Left-padded prompts with an attention mask get
 * transformers' positions from the mask, so each row continues as it would alone.
 */
export function generateCausal(
  model: CausalLM,
  ids: number[] | number[][],
  opts: CausalGenerateOptions,
  spec: CausalModelSpec,
): number[][] {
  const rows = (Array.isArray(ids[0]) ? (ids as number[][]) : [ids as number[]]).map((r) => [...r]);
  toIdTensor(rows, spec.vocabSize).dispose(); // validates the prompt
  checkGenerateOptions(opts, spec.vocabSize, ["attentionMask"]);
  const pads = leftPadding(opts.attentionMask, rows);
  const stop = stopTokens(opts);
  let cache = opts.useCache === false ? null : new DynamicCache();
  const nextLogits = (): Float32Array => {
    const L = rows[0].length;
    if (cache && L > spec.contextLength) {
      cache.dispose();
      cache = null;
    }
    const from = cache ? cache.length : Math.max(0, L - spec.contextLength);
    const start = cache ? 0 : from; // the mask covers the cached positions too
    const mask = rows.map((row, b) => row.slice(start).map((_, t) => (t + start < pads[b] ? 0 : 1)));
    const positionIds = positionsFromMask(mask).map((p) => p.slice(from - start));
    const padded = pads.some((p) => p > start);
    const last = tf.tidy(() => {
      const logits = model.forward(
        rows.map((r) => r.slice(from)),
        { positionIds, attentionMask: padded ? mask : undefined, pastKeyValues: cache ?? undefined, logitsToKeep: 1 },
      ); // [B, 1, V]
      const [B, , V] = logits.shape;
      return logits.reshape([B, V]);
    });
    const values = last.dataSync() as Float32Array;
    last.dispose();
    return values;
  };
  const wasTraining = model.training;
  model.eval();
  try {
    return decodeLoop({ rows, firstCounted: pads, padTokenId: spec.padTokenId ?? stop[0] ?? 0, stopTokens: stop, nextLogits }, opts);
  } finally {
    cache?.dispose();
    model.train(wasTraining);
  }
}
