import { ready, seed as seedAll, type EngineInfo } from "../engine/index.js";
import { batchStream } from "../data/index.js";
import { loadBase, type GPT2LMHeadModel } from "../models/index.js";
import type { CausalLMBase } from "./strategies.js";
import { ByteTokenizer } from "../tokenizers/index.js";
import { train, type TokenBatch, type TrainableModel, type TrainOptions } from "../train/index.js";
import { forgettingData, type ForgettingData } from "./experiment_data.js";
import { measureBaseline, trackRetention } from "./retention.js";
import { studyCurves, studyRun, studyTable, studyTradeoff, type StudyBaseline, type StudyRun } from "./study_runs.js";
import { compareWithMargin, verdict, type VerdictCheck } from "./verdict.js";

/**
 * The notebooks' experiment: one shipped base, fine-tuned several ways on Brown's J ("learned"),
 * each run measured for what it learns of J and forgets of held-out press and fiction.
 */
export interface ForgettingStudyOptions<M extends CausalLMBase = GPT2LMHeadModel> {
  /** Seeds every draw after setup (adapter weights, batch order): the same for every run. */
  seed: number;
  /** Optimizer steps per run. */
  steps: number;
  /** Peak learning rate of a run (a run's own `lr` option overrides it). */
  lr: number;
  /** Evaluate both sets every N steps. */
  evalEvery: number;
  /** New-domain training windows a run uses; default Infinity: all of them, none seen twice. */
  trainWindows?: number;
  /**
   * The base: a shipped pretrained GPT-2 by name (`loadBase`), or a function that returns a fresh
   * copy of the same base of any causal family each call (the baseline is measured on one, runs
   * start from others): `() => fromPretrained(folder)`, or a seeded LLaMA with a byte vocabulary,
   * `() => { seed(1); return llama("tiny"); }`. Default "tiny".
   */
  base?: string | (() => M | Promise<M>);
  /** Windows per batch, in training and evaluation; default 8. */
  batchSize?: number;
  /** Tokens (bytes) per window; default 64, the tiny model's context. */
  windowLength?: number;
  /** Windows per evaluation set, spread over held-out documents; default 24. */
  evalWindows?: number;
  /** Differences under this many nats/byte count as a tie in `above` / `below`; default 0.005. */
  margin?: number;
}

const STUDY_DEFAULTS = { trainWindows: Infinity, base: "tiny", batchSize: 8, windowLength: 64, evalWindows: 24, margin: 0.005 };

/** A model a study can fine-tune: trainable, with a parameter count (a lab base of any family, PEFT-wrapped models). */
export type StudyModel = TrainableModel & { numParameters(opts?: { trainableOnly?: boolean }): number };

/** `train` options for one run, and the training windows it uses (default the study's). */
export type FinetuneOptions = Partial<TrainOptions> & { windows?: readonly Int32Array[] };

export interface ForgettingStudy<M extends CausalLMBase = GPT2LMHeadModel> {
  readonly options: Required<ForgettingStudyOptions<M>>;
  readonly engine: EngineInfo;
  readonly data: ForgettingData;
  /** "domain": the new domain's held-out windows; "retained": held-out press, then fiction. */
  readonly evalSets: { domain: TokenBatch[]; retained: TokenBatch[] };
  /** The new-domain training windows runs use by default. */
  readonly trainWindows: Int32Array[];
  /** The base's loss on each eval set, measured once before any run. */
  readonly baseline: StudyBaseline;
  /** A fresh copy of the base: every run starts from one. */
  loadBase(): Promise<M>;
  /** Fine-tunes `model` on the new domain, evaluating both sets as it goes. */
  finetune(name: string, model: StudyModel, opts?: FinetuneOptions): Promise<StudyRun>;
  /** `a` is higher than `b` by more than the margin (a tie is neither higher nor lower). */
  above(a: number, b: number): boolean;
  /** `a` is lower than `b` by more than the margin. */
  below(a: number, b: number): boolean;
  curves(runs: readonly StudyRun[]): ReturnType<typeof studyCurves>;
  tradeoff(runs: readonly StudyRun[]): ReturnType<typeof studyTradeoff>;
  /** Prints the backend, the seed, the data and the base's losses. */
  printSetup(): void;
  /** Prints one row per run (studyTable). */
  printSummary(runs: readonly StudyRun[]): void;
  /** Prints the verdict on `claim` from its checks (the pure `verdict` returns it instead). */
  printVerdict(claim: string, checks: readonly VerdictCheck[]): void;
}

function resolve<M extends CausalLMBase>(options: ForgettingStudyOptions<M>): Required<ForgettingStudyOptions<M>> {
  const o = { ...STUDY_DEFAULTS, ...options };
  for (const key of ["seed", "steps", "lr", "evalEvery", "batchSize", "windowLength", "evalWindows", "margin"] as const) {
    if (!Number.isFinite(o[key])) throw new Error(`forgettingStudy: ${key} must be a finite number; got ${String(o[key])}`);
  }
  if (!(o.trainWindows >= 1)) throw new Error(`forgettingStudy: trainWindows must be at least 1 (Infinity: all); got ${o.trainWindows}`);
  return o;
}

/**
 * Sets up a study: starts the engine, seeds it, loads the data and measures the base once (the
 * reference for "learned" and "forgot"). The order of these steps fixes the random draws, so the
 * same options give the same runs.
 */
export async function forgettingStudy<M extends CausalLMBase = GPT2LMHeadModel>(
  options: ForgettingStudyOptions<M>,
): Promise<ForgettingStudy<M>> {
  const o = resolve(options);
  const { base: source } = o;
  const freshBase = async (): Promise<M> => (typeof source === "string" ? ((await loadBase(source)) as CausalLMBase as M) : source());
  const engine = await ready();
  seedAll(o.seed);
  // The new domain is Brown's J, never seen in pretraining; what the base should keep is measured
  // on held-out press (A-C) and fiction (K-P) documents, also never seen in pretraining.
  const data = forgettingData({
    tokenizer: new ByteTokenizer(),
    windowLength: o.windowLength,
    evalWindows: o.evalWindows,
    evalBatchSize: o.batchSize,
  });
  const evalSets = { domain: data.domainEval, retained: [...data.retain.press, ...data.retain.fiction] };
  const trainWindows = data.domainTrain.slice(0, o.trainWindows);
  const base = await freshBase();
  const baseline = (await measureBaseline(base, evalSets)) as StudyBaseline;
  base.dispose();

  async function finetune(name: string, model: StudyModel, opts: FinetuneOptions = {}): Promise<StudyRun> {
    const { windows = trainWindows, ...trainOpts } = opts;
    const tracker = trackRetention(model, { sets: evalSets, baseline, retained: ["retained"] });
    const started = performance.now();
    const { events } = await train(model, {
      data: batchStream(windows, { batchSize: o.batchSize, seed: o.seed })[Symbol.iterator](),
      steps: o.steps,
      lr: o.lr,
      evalEvery: o.evalEvery,
      evalSets,
      ...trainOpts,
      onEvent: (e) => {
        tracker.onEvent(e);
        trainOpts.onEvent?.(e);
      },
    });
    const seconds = (performance.now() - started) / 1000;
    const counts = { trainableParams: model.numParameters({ trainableOnly: true }), totalParams: model.numParameters() };
    return studyRun({ name, events, history: tracker.history, seconds, ...counts }, baseline, o.batchSize * o.windowLength);
  }

  return {
    options: o,
    engine,
    data,
    evalSets,
    trainWindows,
    baseline,
    loadBase: freshBase,
    finetune,
    above: (a, b) => compareWithMargin(a, b, o.margin) > 0,
    below: (a, b) => compareWithMargin(a, b, o.margin) < 0,
    curves: (runs) => studyCurves(runs, baseline),
    tradeoff: studyTradeoff,
    printSetup() {
      const windows = `${trainWindows.length} training windows of ${o.windowLength} bytes`;
      console.log(`backend ${engine.backend}; seed ${o.seed}; ${windows}`);
      const losses = `new-domain loss ${baseline.domain.toFixed(3)}, retained loss ${baseline.retained.toFixed(3)}`;
      console.log(`the base before fine-tuning: ${losses} nats/byte`);
    },
    printSummary: (runs) => console.log(studyTable(runs)),
    printVerdict: (claim, checks) => console.log(verdict(claim, checks, { seed: o.seed }).text),
  };
}
