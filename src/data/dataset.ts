import type { Tokenizer } from "../tokenizers/index.js";
import { brownDocuments, type BrownDocument } from "./brown.js";
import { documentSeparator } from "./causal_lm.js";
import { splitDocuments } from "./split.js";
import { tokenWindows } from "./windows.js";

export interface LmDatasetOptions {
  tokenizer: Tokenizer;
  /** Brown genres as letters or names; all 15 when omitted. */
  genres?: string | readonly string[];
  /** T: tokens per input window. */
  windowLength: number;
  validationFraction?: number;
  seed?: number;
  /** Start-to-start distance of training windows (default windowLength); validation never overlaps. */
  stride?: number;
}

export interface LmDataset {
  /** Windows of windowLength + 1 tokens. */
  train: Int32Array[];
  validation: Int32Array[];
  tokenizer: Tokenizer;
  /** The document ids on each side of the split. */
  documents: { train: string[]; validation: string[] };
}

/**
 * Brown documents of some genres, split by document, tokenized and cut into windows: each side's
 * documents are joined into one stream, separated by the tokenizer's EOS or else a blank line.
 */
export function makeLmDataset(options: LmDatasetOptions): LmDataset {
  const { tokenizer, genres, windowLength, validationFraction = 0.1, seed = 0, stride = windowLength } = options;
  const split = splitDocuments(brownDocuments(genres), { validationFraction, seed });
  if (split.validation.length === 0) {
    throw new RangeError(
      `makeLmDataset: genres ${JSON.stringify(genres)} hold ${split.train.length} document(s); a split needs at least 2`,
    );
  }
  const separator = documentSeparator(tokenizer);
  const stream = (docs: BrownDocument[]) => {
    const ids: number[] = [];
    docs.forEach((doc, i) => {
      if (i > 0) ids.push(...separator);
      for (const id of tokenizer.encode(doc.text)) ids.push(id);
    });
    return ids;
  };
  return {
    train: tokenWindows(stream(split.train), { length: windowLength, stride }),
    validation: tokenWindows(stream(split.validation), { length: windowLength }),
    tokenizer,
    documents: { train: split.train.map((d) => d.id), validation: split.validation.map((d) => d.id) },
  };
}
