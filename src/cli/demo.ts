import { ready, seed, type BackendChoice } from "../engine/index.js";
import { gpt2, GPT2Config } from "../models/index.js";
import { ByteTokenizer } from "../tokenizers/index.js";
import { BROWN_GENRES, batchStream, batches, makeLmDataset } from "../data/index.js";
import { evaluateLoss, train, type TokenBatch, type TrainEvent } from "../train/index.js";
import { gradNormHeatmap, lossFigure, writeReport } from "../plot/index.js";

export interface DemoOptions {
  genre: string;
  steps: number;
  batchSize: number;
  lr: number;
  seed: number;
  backend?: BackendChoice;
  /** Validation batches evaluated before and after (fixed, so the numbers compare). */
  evalBatches: number;
  log?: (line: string) => void;
  progress?: boolean;
  /** Where to write the HTML report (loss curves, gradient norms); none when undefined. */
  reportPath?: string;
}

export interface DemoResult {
  backend: string;
  genre: string;
  steps: number;
  validationBefore: number;
  validationAfter: number;
  sample: string;
  events: TrainEvent[];
}

/**
 * The embedded demo: trains the tiny GPT-2 on one Brown genre for a short while and reports the
 * validation loss before and after, with a progress bar.
 */
export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const info = await ready(opts.backend ? { backend: opts.backend } : {});
  seed(opts.seed);
  const tokenizer = new ByteTokenizer();
  const config = GPT2Config.preset("tiny");
  const data = makeLmDataset({ tokenizer, genres: opts.genre, windowLength: config.nPositions, validationFraction: 0.1, seed: opts.seed });
  const genreName = BROWN_GENRES[opts.genre as keyof typeof BROWN_GENRES] ?? opts.genre;
  log(`lora-lab demo: tiny GPT-2 (${config.nLayer} layers, d=${config.nEmbd}) on the Brown corpus, genre "${genreName}"`);
  log(`backend ${info.backend} (TensorFlow.js ${info.version}); ${data.train.length} training and ${data.validation.length} validation windows of ${config.nPositions} bytes`);
  const model = gpt2(config);
  log(`parameters: ${model.numParameters().toLocaleString("en-US")}`);
  const valBatches: TokenBatch[] = [...batches(data.validation, { batchSize: opts.batchSize, seed: opts.seed, shuffle: false })].slice(0, opts.evalBatches);
  const before = await evaluateLoss(model, valBatches);
  log(`validation loss before: ${before.toFixed(4)} (uniform guess: ln 256 = ${Math.log(256).toFixed(4)})`);

  const { events } = await train(model, {
    data: batchStream(data.train, { batchSize: opts.batchSize, seed: opts.seed })[Symbol.iterator](),
    steps: opts.steps,
    lr: opts.lr,
    evalEvery: Math.max(1, Math.floor(opts.steps / 8)),
    evalSets: { validation: valBatches },
    // The trainer's bar: on a terminal, or as a line every few seconds in CI logs.
    progress: opts.progress !== false,
  });
  const after = await evaluateLoss(model, valBatches);
  log(`validation loss after ${opts.steps} steps: ${after.toFixed(4)} (${(before - after).toFixed(4)} lower)`);
  const prompt = tokenizer.encode("The ");
  const sample = tokenizer.decode(model.generate(prompt, { maxNewTokens: 48, temperature: 0.8, topK: 40 })[0]);
  log(`sample: ${JSON.stringify(sample)}`);
  model.dispose();
  if (opts.reportPath) {
    await writeReport(opts.reportPath, [
      { heading: `Tiny GPT-2 on the Brown corpus, genre "${genreName}"` },
      { text: `${opts.steps} AdamW steps at a constant learning rate of ${opts.lr} on ${info.backend}; validation loss ${before.toFixed(3)} -> ${after.toFixed(3)} nats/byte.` },
      { figure: lossFigure(events), caption: "Training loss per step and validation loss at each evaluation." },
      { figure: gradNormHeatmap(events, { groupBy: "layer" }), caption: "Gradient norm of each layer, step by step." },
      { text: `Sample after training: ${JSON.stringify(sample)}` },
    ], { title: "lora-lab demo" });
    log(`report: ${opts.reportPath}`);
  }
  return { backend: info.backend, genre: opts.genre, steps: opts.steps, validationBefore: before, validationAfter: after, sample, events };
}
