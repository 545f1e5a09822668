import { existsSync } from "node:fs";
import { join } from "node:path";
import { ready, seed as seedAll, type EngineInfo } from "../engine/index.js";
import { batchStream, type SotuFilter } from "../data/index.js";
import { fromPretrained, shippedCheckpointDir, type GPT2LMHeadModel } from "../models/index.js";
import type { CausalLMBase } from "./strategies.js";
import { ByteTokenizer, loadTokenizer, type Tokenizer } from "../tokenizers/index.js";
import { train, type TokenBatch, type TrainableModel, type TrainOptions } from "../train/index.js";
import { forgettingData, tokenUnit, type ForgettingData, type ForgettingDomain } from "./experiment_data.js";
import { measureBaseline, trackRetention } from "./retention.js";
import { studyCurves, studyRun, studyTable, studyTradeoff, type StudyBaseline, type StudyRun } from "./study_runs.js";
import { runOutcome, type RunOutcome } from "./run_outcome.js";
import { seedCheck, type SeedCheck, type SeedQuantity, type SeedRelation } from "./seeds.js";
import { compareWithMargin, seedVerdict, verdict, type VerdictCheck } from "./verdict.js";

/**
 * The notebooks' experiment: one base, fine-tuned several ways on a new domain (Brown's J,
 * "learned", or the State of the Union addresses), each run measured for what it learns of the
 * domain and forgets of held-out press and fiction.
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
   * The base: a shipped pretrained base by name ("tiny", "teach-12l") or a checkpoint folder, or
   * a function that returns a fresh copy of the same base of any causal family each call (the
   * baseline is measured on one, runs start from others): `() => fromPretrained(folder)`, or a
   * seeded LLaMA with a byte vocabulary, `() => { seed(1); return llama("tiny"); }`. Default "tiny".
   */
  base?: string | (() => M | Promise<M>);
  /**
   * The tokenizer of the data. Default: a base by name or folder that has a tokenizer.json uses
   * it (`loadTokenizer`: teach-12l's BPE), any other base the byte tokenizer. A function base
   * with a vocabulary of its own needs its tokenizer here.
   */
  tokenizer?: Tokenizer;
  /** The new domain: "brown-j" (default) or "sotu", the State of the Union addresses. */
  domain?: ForgettingDomain;
  /** For domain "sotu": which speeches (default all 233; the split stays the same, see sotuSplit). */
  sotu?: SotuFilter;
  /** Windows per batch, in training and evaluation; default 8. */
  batchSize?: number;
  /** Tokens per window (bytes for the byte tokenizer); default the base's context, at most 64 (the tiny model's). */
  windowLength?: number;
  /** Windows per evaluation set, spread over held-out documents; default 24. */
  evalWindows?: number;
  /** Differences under this many nats (per byte or token) count as a tie in `above` / `below`; default 0.005. */
  margin?: number;
}

/** A study's options with every default filled in (the tokenizer and window length from the base). */
export type ResolvedStudyOptions<M extends CausalLMBase = GPT2LMHeadModel> = Required<Omit<ForgettingStudyOptions<M>, "sotu">> &
  Pick<ForgettingStudyOptions<M>, "sotu">;

const STUDY_DEFAULTS = { trainWindows: Infinity, base: "tiny", domain: "brown-j" as const, batchSize: 8, evalWindows: 24, margin: 0.005 };

/** The longest window a study uses by default: the tiny base's context (a larger base gets windows as the tiny one). */
const MAX_DEFAULT_WINDOW = 64;

/** The new domains as printSetup names them. */
const DOMAIN_NAMES: Record<ForgettingDomain, string> = {
  "brown-j": 'Brown J ("learned")',
  sotu: "State of the Union addresses",
};

/** A model a study can fine-tune: trainable, with a parameter count (a lab base of any family, PEFT-wrapped models). */
export type StudyModel = TrainableModel & { numParameters(opts?: { trainableOnly?: boolean }): number };

/** `train` options for one run, and the training windows it uses (default the study's). */
export type FinetuneOptions = Partial<TrainOptions> & { windows?: readonly Int32Array[] };

export interface ForgettingStudy<M extends CausalLMBase = GPT2LMHeadModel> {
  readonly options: ResolvedStudyOptions<M>;
  readonly engine: EngineInfo;
  readonly data: ForgettingData;
  /** "domain": the new domain's held-out windows; "retained": held-out press, then fiction. */
  readonly evalSets: { domain: TokenBatch[]; retained: TokenBatch[] };
  /** What a loss is per: "byte" for the byte tokenizer, "token" for a BPE (losses are nats/unit). */
  readonly unit: "byte" | "token";
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
  /** What a run did (runOutcome against this study's base): learned and forgot, kept, diverged or did not learn. */
  outcome(run: StudyRun): RunOutcome;
  /**
   * One check over seeds (seedCheck with this study's margin): `a` is `relation` `b` beyond 2 sd
   * of the paired per-seed differences. A study fixes its seed, so the values come from one study per seed.
   */
  seedCheck(what: string, a: SeedQuantity, relation: SeedRelation, b: SeedQuantity | number, seeds: readonly number[]): SeedCheck;
  /** Prints the verdict over seeds (seedVerdict): SUPPORTED, REFUTED or INCONCLUSIVE, with mean ± sd. */
  printSeedVerdict(claim: string, checks: readonly SeedCheck[]): void;
}

function resolve<M extends CausalLMBase>(options: ForgettingStudyOptions<M>) {
  const o = { ...STUDY_DEFAULTS, ...options };
  for (const key of ["seed", "steps", "lr", "evalEvery", "batchSize", "evalWindows", "margin"] as const) {
    if (!Number.isFinite(o[key])) throw new Error(`forgettingStudy: ${key} must be a finite number; got ${String(o[key])}`);
  }
  if (o.windowLength !== undefined && !(Number.isInteger(o.windowLength) && o.windowLength >= 1))
    throw new Error(`forgettingStudy: windowLength must be a positive integer; got ${String(o.windowLength)}`);
  if (!(o.trainWindows >= 1)) throw new Error(`forgettingStudy: trainWindows must be at least 1 (Infinity: all); got ${o.trainWindows}`);
  return o;
}

/** A base given by name or folder: a folder with a config.json is a checkpoint, anything else a shipped name. */
function checkpointDir(base: string): string {
  return existsSync(join(base, "config.json")) ? base : shippedCheckpointDir(base);
}

/** The tokenizer a checkpoint folder was trained with: its tokenizer.json, else bytes (the tiny base's). */
export async function checkpointTokenizer(dir: string): Promise<Tokenizer> {
  return existsSync(join(dir, "tokenizer.json")) ? loadTokenizer(dir) : new ByteTokenizer();
}

/** How many positions the model attends over: GPT-2's n_positions, LLaMA's max_position_embeddings. */
function contextLength(model: CausalLMBase): number {
  return "nPositions" in model.config ? model.config.nPositions : model.config.maxPositionEmbeddings;
}

/**
 * Sets up a study: starts the engine, seeds it, loads the data and measures the base once (the
 * reference for "learned" and "forgot"). The order of these steps fixes the random draws, so the
 * same options give the same runs.
 */
export async function forgettingStudy<M extends CausalLMBase = GPT2LMHeadModel>(
  options: ForgettingStudyOptions<M>,
): Promise<ForgettingStudy<M>> {
  const resolved = resolve(options);
  const { base: source } = resolved;
  const dir = typeof source === "string" ? checkpointDir(source) : undefined;
  const freshBase = async (): Promise<M> =>
    dir !== undefined ? ((await fromPretrained(dir)) as CausalLMBase as M) : (source as () => M | Promise<M>)();
  const tokenizer = resolved.tokenizer ?? (dir !== undefined ? await checkpointTokenizer(dir) : new ByteTokenizer());
  const unit = tokenUnit(tokenizer);
  const engine = await ready();
  seedAll(resolved.seed);
  // The base comes first (its context sets the default window); building the data draws nothing
  // from the engine's generator, so the draws after the seed are those of a base made before it.
  const base = await freshBase();
  let o: ResolvedStudyOptions<M>;
  let data: ForgettingData;
  let evalSets: ForgettingStudy["evalSets"];
  let baseline: StudyBaseline;
  try {
    if (tokenizer.vocabSize > base.config.vocabSize)
      throw new Error(
        `forgettingStudy: the tokenizer has ${tokenizer.vocabSize} tokens but the base's vocabulary ${base.config.vocabSize}; ` +
          "pass the base's own tokenizer (option tokenizer)",
      );
    o = { ...resolved, tokenizer, windowLength: resolved.windowLength ?? Math.min(MAX_DEFAULT_WINDOW, contextLength(base)) };
    // The new domain (J or SOTU) is never seen in pretraining; what the base should keep is measured
    // on held-out press (A-C) and fiction (K-P) documents, also never seen in pretraining.
    data = forgettingData({
      tokenizer,
      windowLength: o.windowLength,
      evalWindows: o.evalWindows,
      evalBatchSize: o.batchSize,
      domain: o.domain,
      sotu: o.sotu,
    });
    evalSets = { domain: data.domainEval, retained: [...data.retain.press, ...data.retain.fiction] };
    baseline = (await measureBaseline(base, evalSets)) as StudyBaseline;
  } finally {
    base.dispose();
  }
  const trainWindows = data.domainTrain.slice(0, o.trainWindows);

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
    unit,
    trainWindows,
    baseline,
    loadBase: freshBase,
    finetune,
    above: (a, b) => compareWithMargin(a, b, o.margin) > 0,
    below: (a, b) => compareWithMargin(a, b, o.margin) < 0,
    curves: (runs) => studyCurves(runs, baseline),
    tradeoff: studyTradeoff,
    printSetup() {
      const windows = `${trainWindows.length} training windows of ${o.windowLength} ${unit}s`;
      console.log(`backend ${engine.backend}; seed ${o.seed}; new domain ${DOMAIN_NAMES[o.domain]}; ${windows}`);
      const losses = `new-domain loss ${baseline.domain.toFixed(3)}, retained loss ${baseline.retained.toFixed(3)}`;
      console.log(`the base before fine-tuning: ${losses} nats/${unit}`);
    },
    printSummary: (runs) => console.log(studyTable(runs, unit)),
    printVerdict: (claim, checks) => console.log(verdict(claim, checks, { seed: o.seed }).text),
    outcome: (run) => runOutcome(run, baseline, { margin: o.margin }),
    seedCheck: (what, a, relation, b, seeds) => seedCheck(what, a, relation, b, { seeds, margin: o.margin }),
    printSeedVerdict: (claim, checks) => console.log(seedVerdict(claim, checks).text),
  };
}
