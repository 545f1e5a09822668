import type { Tokenizer } from "../tokenizers/index.js";
import { EpochBatches, type EpochOptions } from "./epochs.js";

/** A sequence-to-sequence example as text: the model reads `source` and learns to write `target`. */
export interface Seq2SeqPair {
  source: string;
  target: string;
}

/** A tokenized example: source ids (the encoder's input) and target ids (the labels). */
export interface Seq2SeqExample {
  source: Int32Array;
  target: Int32Array;
}

export interface Seq2SeqEncodeOptions {
  tokenizer: Tokenizer;
  /** Appended to source and target, as T5's tokenizer does. Default the tokenizer's EOS; null for none. */
  eosTokenId?: number | null;
  /** Longest source / target in tokens, EOS included; longer ones are cut (keeping the EOS). */
  maxSourceLength?: number;
  maxTargetLength?: number;
}

function truncate(ids: number[], max: number | undefined, eos: number | null): Int32Array {
  const room = max === undefined ? ids.length : Math.max(0, max - (eos === null ? 0 : 1));
  const out = ids.slice(0, room);
  if (eos !== null) out.push(eos);
  return Int32Array.from(out);
}

/** Tokenizes text pairs, appending EOS and cutting to the maximum lengths. */
export function encodeSeq2SeqPairs(pairs: readonly Seq2SeqPair[], options: Seq2SeqEncodeOptions): Seq2SeqExample[] {
  const { tokenizer, maxSourceLength, maxTargetLength } = options;
  const eos = options.eosTokenId === undefined ? (tokenizer.eosTokenId ?? null) : options.eosTokenId;
  for (const [name, v] of [
    ["maxSourceLength", maxSourceLength],
    ["maxTargetLength", maxTargetLength],
  ] as const) {
    if (v !== undefined && (!Number.isInteger(v) || v < 2))
      throw new RangeError(`encodeSeq2SeqPairs: ${name} must be an integer >= 2 (room for a token and EOS); got ${v}`);
  }
  if (eos !== null && (!Number.isInteger(eos) || eos < 0 || eos >= tokenizer.vocabSize)) {
    throw new RangeError(
      `encodeSeq2SeqPairs: eosTokenId ${eos} is not a token id of this tokenizer; expected an integer in [0, ${tokenizer.vocabSize})`,
    );
  }
  return pairs.map((p) => ({
    source: truncate(tokenizer.encode(p.source), maxSourceLength, eos),
    target: truncate(tokenizer.encode(p.target), maxTargetLength, eos),
  }));
}

/** One padded batch, row-major: row b of the source is `inputIds[b*S .. (b+1)*S)`. */
export interface Seq2SeqBatch {
  /** [B, S] source ids, padded with the pad token. */
  inputIds: Int32Array;
  /** [B, S] 1 for real source tokens, 0 for padding. */
  attentionMask: Int32Array;
  /** [B, T] target ids, padded with -100 so the loss ignores the padding. */
  labels: Int32Array;
  sourceShape: [number, number];
  labelShape: [number, number];
}

export interface Seq2SeqCollateOptions {
  /** Source padding id. Default 0 (T5's pad token). */
  padTokenId?: number;
  /** Label padding id. Default -100, which losses ignore. */
  labelPadId?: number;
}

/** Pads examples to the longest source and the longest target among them (HF's DataCollatorForSeq2Seq). */
export function collateSeq2Seq(examples: readonly Seq2SeqExample[], options: Seq2SeqCollateOptions = {}): Seq2SeqBatch {
  const { padTokenId = 0, labelPadId = -100 } = options;
  if (examples.length === 0) throw new RangeError("collateSeq2Seq: no examples to batch");
  examples.forEach((e, i) => {
    if (e.source.length === 0 || e.target.length === 0)
      throw new RangeError(`collateSeq2Seq: example ${i} has an empty ${e.source.length === 0 ? "source" : "target"}`);
  });
  const B = examples.length;
  const S = Math.max(...examples.map((e) => e.source.length));
  const T = Math.max(...examples.map((e) => e.target.length));
  const inputIds = new Int32Array(B * S).fill(padTokenId);
  const attentionMask = new Int32Array(B * S);
  const labels = new Int32Array(B * T).fill(labelPadId);
  examples.forEach((e, b) => {
    inputIds.set(e.source, b * S);
    attentionMask.fill(1, b * S, b * S + e.source.length);
    labels.set(e.target, b * T);
  });
  return { inputIds, attentionMask, labels, sourceShape: [B, S], labelShape: [B, T] };
}

export interface Seq2SeqBatchOptions extends Seq2SeqCollateOptions, EpochOptions {}

/**
 * Padded batches of examples, one epoch per pass, ordered by (seed, epoch) as `BatchIterator`,
 * so a run's data order is reproducible and `epochBatches(k)` gives any epoch directly.
 */
export class Seq2SeqBatchIterator extends EpochBatches<Seq2SeqBatch> {
  constructor(
    private readonly examples: readonly Seq2SeqExample[],
    private readonly options: Seq2SeqBatchOptions,
  ) {
    super(examples.length, options, "seq2seqBatches", "examples");
  }

  protected assemble(rows: number[]): Seq2SeqBatch {
    return collateSeq2Seq(
      rows.map((i) => this.examples[i]!),
      this.options,
    );
  }
}

export function seq2seqBatches(examples: readonly Seq2SeqExample[], options: Seq2SeqBatchOptions): Seq2SeqBatchIterator {
  return new Seq2SeqBatchIterator(examples, options);
}
