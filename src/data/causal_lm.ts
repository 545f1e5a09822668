import type { Tokenizer } from "../tokenizers/index.js";
import type { Batch } from "./batches.js";
import { EpochBatches, type EpochOptions } from "./epochs.js";
import { dataError, type Dataset, emptySkipReport, recordSkip, requireText, type RecordSource, type SkipReport } from "./records.js";

/** The label the loss ignores (PyTorch's ignore_index; lora-lab's losses skip every negative target). */
export const IGNORE_INDEX = -100;

/**
 * A tokenized example as transformers holds one: `labels` line up with `inputIds` (not shifted)
 * and are IGNORE_INDEX where the loss must not look (a prompt, padding).
 */
export interface LmExample {
  inputIds: Int32Array;
  labels: Int32Array;
}

/**
 * A causal-LM batch as `train()` reads it (a TokenBatch): row b's inputs are `inputIds[b*T ..
 * (b+1)*T)`, its targets the next tokens' labels (-100 on padding and masked tokens), and
 * `attentionMask` 1 on real tokens. Rows are padded on the right: under causal attention no real
 * token attends to a later pad, so the model needs no mask for the real positions' logits and
 * the loss, which skips -100, is the mean over real targets, as transformers' with the mask.
 */
export interface CausalLmBatch extends Batch {
  attentionMask: Int32Array;
}

/** The tokens that end a document: the tokenizer's EOS, or a blank line for tokenizers without one (the byte tokenizer). */
export function documentSeparator(tokenizer: Tokenizer): number[] {
  return tokenizer.eosTokenId !== undefined ? [tokenizer.eosTokenId] : tokenizer.encode("\n\n");
}

/** The id padding rows: the tokenizer's pad token, else its EOS (what TRL sets when pad_token is None), else 0. */
export function padTokenIdOf(tokenizer: Tokenizer): number {
  return tokenizer.padTokenId ?? tokenizer.eosTokenId ?? 0;
}

/**
 * Concatenates examples and cuts the stream into windows of `length + 1` tokens, consecutive
 * windows sharing one token, as `tokenWindows` does (run_clm's group_texts, TRL's packing):
 * every token is a target once. Labels travel with their tokens, so a completion mask survives
 * packing. The tail shorter than a window is dropped and its size returned.
 */
export function packExamples(examples: readonly LmExample[], length: number): { windows: LmExample[]; droppedTokens: number } {
  checkLength(length, "packExamples");
  const total = examples.reduce((n, e) => n + e.inputIds.length, 0);
  const ids = new Int32Array(total);
  const labels = new Int32Array(total);
  let at = 0;
  for (const e of examples) {
    ids.set(e.inputIds, at);
    labels.set(e.labels, at);
    at += e.inputIds.length;
  }
  const windows: LmExample[] = [];
  let start = 0;
  for (; start + length + 1 <= total; start += length) {
    windows.push({ inputIds: ids.slice(start, start + length + 1), labels: labels.slice(start, start + length + 1) });
  }
  return { windows, droppedTokens: windows.length === 0 ? total : total - (start + 1) };
}

export interface CollateCausalLmOptions {
  /** The id written into padded input positions (their targets are -100 and their mask 0). Default 0. */
  padTokenId?: number;
  /** Pad every batch to this many input tokens (transformers' padding="max_length"); default the longest row. */
  padTo?: number;
}

/**
 * Pads examples on the right into one batch (DataCollatorForLanguageModeling with mlm=False, its
 * labels shifted here because lora-lab's losses take next-token targets): an example of n
 * tokens gives n - 1 inputs and targets.
 */
export function collateCausalLm(examples: readonly LmExample[], options: CollateCausalLmOptions = {}): CausalLmBatch {
  const { padTokenId = 0 } = options;
  if (examples.length === 0) throw new RangeError("collateCausalLm: no examples to batch");
  examples.forEach((e, i) => {
    if (e.inputIds.length < 2)
      throw new RangeError(`collateCausalLm: example ${i} has ${e.inputIds.length} token(s); at least 2 make one target`);
    if (e.labels.length !== e.inputIds.length)
      throw new RangeError(`collateCausalLm: example ${i} has ${e.inputIds.length} input ids but ${e.labels.length} labels`);
  });
  const longest = Math.max(...examples.map((e) => e.inputIds.length - 1));
  const T = options.padTo ?? longest;
  if (T < longest) throw new RangeError(`collateCausalLm: padTo ${T} is shorter than the longest example (${longest} inputs)`);
  const B = examples.length;
  const inputIds = new Int32Array(B * T).fill(padTokenId);
  const targets = new Int32Array(B * T).fill(IGNORE_INDEX);
  const attentionMask = new Int32Array(B * T);
  examples.forEach((e, b) => {
    const n = e.inputIds.length - 1;
    inputIds.set(e.inputIds.subarray(0, n), b * T);
    targets.set(e.labels.subarray(1), b * T);
    attentionMask.fill(1, b * T, b * T + n);
  });
  return { inputIds, targets, attentionMask, shape: [B, T] };
}

export interface CausalLmBatchOptions extends EpochOptions, CollateCausalLmOptions {}

/** Padded causal-LM batches, one epoch per pass, ordered by (seed, epoch) as `BatchIterator`. */
export class CausalLmBatchIterator extends EpochBatches<CausalLmBatch> {
  constructor(
    readonly examples: readonly LmExample[],
    private readonly options: CausalLmBatchOptions,
  ) {
    super(examples.length, options, "causalLmBatches", "examples");
  }

  protected assemble(rows: number[]): CausalLmBatch {
    return collateCausalLm(
      rows.map((i) => this.examples[i]!),
      this.options,
    );
  }
}

/** What preparation did to the records: nothing is left out without a count. */
export interface PrepareReport {
  /** Records turned into examples. */
  records: number;
  /** Tokens in those examples (separators included). */
  tokens: number;
  /** Examples cut to maxLength + 1 tokens (no packing). */
  truncated: number;
  /** Tokens after the last whole window (packing). */
  droppedTokens: number;
  /** Records left out (an empty text, no trainable token left), with file, line and reason. */
  skipped: SkipReport;
}

/** Tokenized, ready-to-batch data: `batches()` gives what `train()` takes, `evalBatches()` a fixed list for `evalSets`. */
export class LmData {
  constructor(
    readonly examples: readonly LmExample[],
    readonly report: PrepareReport,
    readonly padTokenId: number,
    /** With packing every example is a window of exactly maxLength + 1 tokens. */
    readonly packed: boolean,
  ) {}

  /** Seeded batches (a fresh order each epoch); pass straight to `train({ data })`. `padTo` fixes every batch's width. */
  batches(options: EpochOptions & { padTo?: number }): CausalLmBatchIterator {
    return new CausalLmBatchIterator(this.examples, { padTokenId: this.padTokenId, ...options });
  }

  /** The same batches every call, in record order, for `evalSets` and `evaluateLoss`. */
  evalBatches(batchSize: number, options: { dropLast?: boolean } = {}): CausalLmBatch[] {
    return [...this.batches({ batchSize, shuffle: false, dropLast: options.dropLast ?? false }).epochBatches(0)];
  }
}

export interface CausalLmOptions {
  tokenizer: Tokenizer;
  /** T: input tokens per row (a packed window holds T + 1 tokens; an unpacked example at most T + 1). */
  maxLength: number;
  /** Pack documents into full windows (default), or give each its own padded row (truncated to T + 1 tokens). */
  packing?: boolean;
  /** The record field holding the text, as TRL's dataset_text_field. Default "text". */
  textField?: string;
  /** Padding id (default: pad token, else EOS, else 0); masked out whatever it is. */
  padTokenId?: number;
}

/**
 * Causal-LM data from records with a text field: each text tokenized and followed by the
 * document separator (EOS), then packed into windows or kept one a row; labels are the tokens.
 */
export function causalLmData(dataset: Dataset, options: CausalLmOptions): LmData {
  const { tokenizer, textField = "text" } = options;
  const separator = documentSeparator(tokenizer);
  return prepareLm(dataset, options, (record, source) => {
    const text = requireText(record, textField, source);
    if (text.length === 0) return "empty text";
    const ids = Int32Array.from([...tokenizer.encode(text), ...separator]);
    return { inputIds: ids, labels: ids.slice() };
  });
}

/** An example for a record, or the reason it has none (counted in `skipped`). */
export type ExampleBuilder = (record: Dataset["records"][number], source: RecordSource) => LmExample | string;

/** The shared tail of causal-LM and instruction preparation: build, truncate or pack, report. */
export function prepareLm(
  dataset: Dataset,
  options: Pick<CausalLmOptions, "tokenizer" | "maxLength" | "packing" | "padTokenId">,
  build: ExampleBuilder,
): LmData {
  const { tokenizer, maxLength, packing = true } = options;
  checkLength(maxLength, packing ? "packing" : "causalLmData");
  const report: PrepareReport = { records: 0, tokens: 0, truncated: 0, droppedTokens: 0, skipped: emptySkipReport() };
  let examples: LmExample[] = [];
  dataset.records.forEach((record, i) => {
    const source = dataset.sources[i]!;
    let example = build(record, source);
    if (typeof example !== "string" && !packing && example.inputIds.length > maxLength + 1) {
      report.truncated++;
      example = { inputIds: example.inputIds.slice(0, maxLength + 1), labels: example.labels.slice(0, maxLength + 1) };
    }
    // A target is labels[1..]: an example whose only unmasked label is its first token trains nothing.
    if (typeof example !== "string" && !packing && !example.labels.subarray(1).some((l) => l >= 0)) {
      example = "no trainable token within maxLength + 1 tokens";
    }
    if (typeof example === "string") {
      recordSkip(report.skipped, { ...source, reason: dataError(source, example).message });
      return;
    }
    report.records++;
    report.tokens += example.inputIds.length;
    examples.push(example);
  });
  if (packing) {
    const packed = packExamples(examples, maxLength);
    if (packed.windows.length === 0)
      throw new RangeError(`packing: ${report.tokens} tokens make no window of maxLength + 1 = ${maxLength + 1}; lower maxLength`);
    examples = packed.windows;
    report.droppedTokens = packed.droppedTokens;
  } else if (examples.length === 0) {
    throw new RangeError(
      `causalLmData: no example left (${report.skipped.count} record(s) skipped: ${report.skipped.examples[0]?.reason})`,
    );
  }
  return new LmData(examples, report, options.padTokenId ?? padTokenIdOf(tokenizer), packing);
}

function checkLength(length: number, who: string): void {
  if (!Number.isInteger(length) || length < 1) throw new RangeError(`${who}: maxLength must be a positive integer; got ${length}`);
}
