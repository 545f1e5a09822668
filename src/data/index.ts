/** data: the Brown corpus, the State of the Union addresses, the user's own files (loadDataset), splits, token windows, causal-LM / instruction / seq2seq batches, synthetic tasks. */
export { BROWN_GENRES, brownDocuments, resolveBrownGenres } from "./brown.js";
export type { BrownDocument, BrownGenre, BrownGenreLetter } from "./brown.js";
export { SOTU_HELD_OUT_FRACTION, SOTU_SPLIT_SEED, sotuDocuments, sotuInstructions, sotuPassages, sotuSplit } from "./sotu.js";
export type { SotuDocument, SotuFilter, SotuInstructionKind, SotuInstructionOptions, SotuInstructionRecord, SotuSplit } from "./sotu.js";
export { splitDocuments } from "./split.js";
export type { Split, SplitOptions } from "./split.js";
export { tokenWindows } from "./windows.js";
export type { WindowOptions } from "./windows.js";
export { EpochBatches } from "./epochs.js";
export type { EpochOptions } from "./epochs.js";
export { BatchIterator, batchStream, batches } from "./batches.js";
export type { Batch, BatchOptions } from "./batches.js";
export { makeLmDataset } from "./dataset.js";
export type { LmDataset, LmDatasetOptions } from "./dataset.js";
export { SYNTHETIC_SEPARATOR, syntheticSequences } from "./synthetic.js";
export type { SyntheticOptions, SyntheticTask } from "./synthetic.js";
export { Seq2SeqBatchIterator, collateSeq2Seq, encodeSeq2SeqPairs, seq2seqBatches } from "./seq2seq.js";
export type {
  Seq2SeqBatch,
  Seq2SeqBatchOptions,
  Seq2SeqCollateOptions,
  Seq2SeqEncodeOptions,
  Seq2SeqExample,
  Seq2SeqPair,
} from "./seq2seq.js";
export { brownSeq2SeqDataset, syntheticSeq2SeqExamples } from "./seq2seq_tasks.js";
export type {
  BrownSeq2SeqDataset,
  BrownSeq2SeqOptions,
  BrownSeq2SeqTask,
  Seq2SeqSyntheticOptions,
  Seq2SeqSyntheticTask,
} from "./seq2seq_tasks.js";
export { mulberry32 } from "./random.js";
export { Dataset, DataError, SKIP_DETAILS } from "./records.js";
export type { DataRecord, RecordSource, SkipReport, SkippedRecord, TrainTestSplitOptions } from "./records.js";
export { DatasetStream, FORMAT_EXTENSIONS, loadDataset, streamDataset } from "./load_dataset.js";
export type { DatasetFormat, LoadDatasetOptions, SourcedRecord } from "./load_dataset.js";
export {
  CausalLmBatchIterator,
  IGNORE_INDEX,
  LmData,
  causalLmData,
  collateCausalLm,
  documentSeparator,
  packExamples,
  padTokenIdOf,
} from "./causal_lm.js";
export type {
  CausalLmBatch,
  CausalLmBatchOptions,
  CausalLmOptions,
  CollateCausalLmOptions,
  LmExample,
  PrepareReport,
} from "./causal_lm.js";
export { instructData } from "./instruct.js";
export type { InstructOptions, InstructReport } from "./instruct.js";
export { seq2seqData } from "./seq2seq_data.js";
export type { Seq2SeqData, Seq2SeqDataOptions } from "./seq2seq_data.js";
