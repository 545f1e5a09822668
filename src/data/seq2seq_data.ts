import type { EpochOptions } from "./epochs.js";
import { dataError, emptySkipReport, recordSkip, requireText, type Dataset, type SkipReport } from "./records.js";
import {
  encodeSeq2SeqPairs,
  seq2seqBatches,
  type Seq2SeqBatchIterator,
  type Seq2SeqEncodeOptions,
  type Seq2SeqExample,
  type Seq2SeqPair,
} from "./seq2seq.js";

export interface Seq2SeqDataOptions extends Seq2SeqEncodeOptions {
  /** The record fields of the encoder's text and the text to learn. Defaults "source", "target". */
  sourceField?: string;
  targetField?: string;
  /** Put before every source, as run_summarization's source_prefix ("summarize: " for T5). */
  sourcePrefix?: string;
}

/** Encoded seq2seq examples from records, with batches padded as DataCollatorForSeq2Seq pads them. */
export interface Seq2SeqData {
  pairs: Seq2SeqPair[];
  examples: Seq2SeqExample[];
  /** Records left out (an empty source or target), with file, line and reason. */
  skipped: SkipReport;
  /** The source padding id the batches use (the tokenizer's pad token, else 0 as T5's). */
  padTokenId: number;
  /**
   * Padded batches: `inputIds` + `attentionMask` for the encoder, `labels` (-100 padding) that
   * T5's `loss` shifts right into decoder inputs itself, as transformers' models do with labels.
   */
  batches(options: EpochOptions): Seq2SeqBatchIterator;
}

/** Seq2seq data (T5, BART) from records with a source and a target text field: `loadDataset("pairs.csv")` then this. */
export function seq2seqData(dataset: Dataset, options: Seq2SeqDataOptions): Seq2SeqData {
  const { sourceField = "source", targetField = "target", sourcePrefix = "" } = options;
  const skipped = emptySkipReport();
  const pairs: Seq2SeqPair[] = [];
  dataset.records.forEach((record, i) => {
    const source = dataset.sources[i]!;
    const text = requireText(record, sourceField, source);
    const target = requireText(record, targetField, source);
    const empty = text === "" ? sourceField : target === "" ? targetField : undefined;
    if (empty) recordSkip(skipped, { ...source, reason: dataError(source, `empty "${empty}"`, empty).message });
    else pairs.push({ source: sourcePrefix + text, target });
  });
  if (pairs.length === 0)
    throw new RangeError(`seq2seqData: no pair left (${skipped.count} record(s) skipped: ${skipped.examples[0]?.reason})`);
  const examples = encodeSeq2SeqPairs(pairs, options);
  const padTokenId = options.tokenizer.padTokenId ?? 0;
  return { pairs, examples, skipped, padTokenId, batches: (o) => seq2seqBatches(examples, { padTokenId, ...o }) };
}
