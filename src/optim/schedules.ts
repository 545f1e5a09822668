/**
 * Learning-rate schedules as Hugging Face transformers defines them (optimization.py): each is a
 * function `step -> multiplier of the peak LR`, the `lr_lambda` that torch's LambdaLR applies.
 * Step 0 is the first optimizer step, so with warmup the first update uses a multiplier of 0, as in
 * transformers.
 */

/** Every `SchedulerType` of transformers that is a pure function of the step. */
export const SCHEDULER_NAMES = [
  "linear",
  "cosine",
  "cosine_with_restarts",
  "polynomial",
  "constant",
  "constant_with_warmup",
  "inverse_sqrt",
  "cosine_with_min_lr",
  "cosine_warmup_with_min_lr",
  "warmup_stable_decay",
] as const;

export type SchedulerName = (typeof SCHEDULER_NAMES)[number];

/** Shapes of warmup and decay for `warmup_stable_decay`. */
export type WsdCurve = "linear" | "cosine" | "1-sqrt";

/** step -> multiplier of the peak learning rate. */
export type LrSchedule = (step: number) => number;

export interface ScheduleOptions {
  /** Warmup steps; takes precedence over `warmupRatio` when > 0 (as TrainingArguments). Default 0. */
  numWarmupSteps?: number;
  /** Fraction of `numTrainingSteps` to warm up over, rounded up, used when numWarmupSteps is 0. */
  warmupRatio?: number;
  numTrainingSteps?: number;
  /** cosine / cosine_with_min_lr: 0.5 (half a wave); cosine_with_restarts: 1 (hard restarts). */
  numCycles?: number;
  /** Peak learning rate, needed where transformers reads the optimizer's lr (polynomial, minLr). */
  lr?: number;
  /** polynomial: final LR (default 1e-7) and power (default 1). */
  lrEnd?: number;
  power?: number;
  /** inverse_sqrt: default numWarmupSteps, or 10000 without warmup. */
  timescale?: number;
  /** cosine_with_min_lr / cosine_warmup_with_min_lr: the floor, absolute or as a ratio of `lr`. */
  minLr?: number;
  minLrRate?: number;
  /** cosine_warmup_with_min_lr: warmup starts at this ratio (default: the (step + 1) / W ramp). */
  warmupLrRate?: number;
  /** warmup_stable_decay. */
  numDecaySteps?: number;
  numStableSteps?: number;
  warmupType?: WsdCurve;
  decayType?: WsdCurve;
  minLrRatio?: number;
}

/** Warmup steps as TrainingArguments.get_warmup_steps computes them. */
export function resolveWarmupSteps(opts: Pick<ScheduleOptions, "numWarmupSteps" | "warmupRatio" | "numTrainingSteps">): number {
  const steps = opts.numWarmupSteps ?? 0;
  if (!Number.isInteger(steps) || steps < 0) throw new Error(`getScheduler: numWarmupSteps must be a non-negative integer, got ${steps}`);
  if (steps > 0 || !opts.warmupRatio) return steps;
  const ratio = opts.warmupRatio;
  if (!(ratio >= 0 && ratio <= 1)) throw new Error(`getScheduler: warmupRatio must be in [0, 1], got ${ratio}`);
  if (opts.numTrainingSteps === undefined) throw new Error("getScheduler: warmupRatio needs numTrainingSteps to count warmup steps");
  return Math.ceil(opts.numTrainingSteps * ratio);
}

const warmupRamp = (s: number, w: number) => s / Math.max(1, w);

/**
 * The linear warmup most schedules share, then `decay(progress)` where progress runs from 0 at
 * the end of warmup to 1 at `total` steps.
 */
function warmupThenDecay(W: number, total: number, decay: (progress: number) => number): LrSchedule {
  return (s) => (s < W ? warmupRamp(s, W) : decay((s - W) / Math.max(1, total - W)));
}

/** transformers' cosine curve: 1 at progress 0, falling over `cycles` waves (0.5: to 0 at progress 1). */
const cosineCurve = (cycles: number, progress: number) => 0.5 * (1 + Math.cos(Math.PI * cycles * 2 * progress));

function required(name: SchedulerName, field: keyof ScheduleOptions, value: number | undefined): number {
  if (value === undefined || !Number.isFinite(value))
    throw new Error(`getScheduler("${name}"): ${field} is required (a finite number), got ${value}`);
  return value;
}

function wsdCurve(kind: WsdCurve, which: "warmupType" | "decayType"): WsdCurve {
  if (kind !== "linear" && kind !== "cosine" && kind !== "1-sqrt") {
    throw new Error(`getScheduler("warmup_stable_decay"): unknown ${which} "${kind}"; expected "linear", "cosine" or "1-sqrt"`);
  }
  return kind;
}

/**
 * The multiplier function of a transformers schedule. Errors name the option a schedule needs.
 * `getScheduler("cosine", { numWarmupSteps: 100, numTrainingSteps: 1000 })(step)`.
 */
export function getScheduler(name: SchedulerName, opts: ScheduleOptions = {}): LrSchedule {
  if (!(SCHEDULER_NAMES as readonly string[]).includes(name)) {
    const hint =
      (name as string) === "reduce_lr_on_plateau" ? " (reduce_lr_on_plateau depends on metrics, not the step, and is not provided)" : "";
    throw new Error(`getScheduler: unknown schedule "${name}"${hint}; available: ${SCHEDULER_NAMES.join(", ")}`);
  }
  const W = resolveWarmupSteps(opts);
  const T = () => required(name, "numTrainingSteps", opts.numTrainingSteps);
  switch (name) {
    case "constant":
      return () => 1;
    case "constant_with_warmup":
      return (s) => (s < W ? warmupRamp(s, W) : 1);
    case "linear": {
      const total = T();
      return (s) => (s < W ? warmupRamp(s, W) : Math.max(0, (total - s) / Math.max(1, total - W)));
    }
    case "cosine": {
      const cycles = opts.numCycles ?? 0.5;
      return warmupThenDecay(W, T(), (progress) => Math.max(0, cosineCurve(cycles, progress)));
    }
    case "cosine_with_restarts": {
      const cycles = opts.numCycles ?? 1;
      return warmupThenDecay(W, T(), (progress) =>
        progress >= 1 ? 0 : Math.max(0, 0.5 * (1 + Math.cos(Math.PI * ((cycles * progress) % 1)))),
      );
    }
    case "polynomial": {
      const total = T();
      const lrInit = required(name, "lr", opts.lr);
      const lrEnd = opts.lrEnd ?? 1e-7;
      const power = opts.power ?? 1;
      if (!(lrInit > lrEnd)) throw new Error(`getScheduler("polynomial"): lrEnd (${lrEnd}) must be smaller than the peak lr (${lrInit})`);
      return (s) => {
        if (s < W) return warmupRamp(s, W);
        if (s > total) return lrEnd / lrInit;
        const remaining = 1 - (s - W) / (total - W);
        return ((lrInit - lrEnd) * remaining ** power + lrEnd) / lrInit;
      };
    }
    case "inverse_sqrt": {
      const timescale = opts.timescale ?? (W || 10_000);
      return (s) => (s < W ? warmupRamp(s, W) : 1 / Math.sqrt((s + timescale - W) / timescale));
    }
    case "cosine_with_min_lr":
    case "cosine_warmup_with_min_lr": {
      const total = T();
      const cycles = opts.numCycles ?? 0.5;
      const rate = minLrRate(name, opts);
      if (name === "cosine_with_min_lr")
        return warmupThenDecay(W, total, (progress) => Math.max(0, cosineCurve(cycles, progress) * (1 - rate) + rate));
      // This variant reaches the peak at the last warmup step and steps progress one ahead.
      const start = opts.warmupLrRate;
      return (s) => {
        if (s < W) return start === undefined ? (s + 1) / Math.max(1, W) : start + ((1 - start) * s) / Math.max(1, W - 1);
        const progress = (s - W + 1) / Math.max(1, total - W);
        return Math.max(0, cosineCurve(cycles, progress) * (1 - rate) + rate);
      };
    }
    case "warmup_stable_decay":
      return warmupStableDecay(W, opts);
  }
}

function minLrRate(name: SchedulerName, opts: ScheduleOptions): number {
  if (opts.minLr !== undefined && opts.minLrRate !== undefined)
    throw new Error(`getScheduler("${name}"): give minLr or minLrRate, not both`);
  if (opts.minLrRate !== undefined) return opts.minLrRate;
  if (opts.minLr !== undefined) return opts.minLr / required(name, "lr", opts.lr);
  throw new Error(`getScheduler("${name}"): one of minLr (with lr) or minLrRate is required`);
}

function warmupStableDecay(W: number, opts: ScheduleOptions): LrSchedule {
  const decaySteps = required("warmup_stable_decay", "numDecaySteps", opts.numDecaySteps);
  if (opts.numStableSteps === undefined && opts.numTrainingSteps === undefined) {
    throw new Error('getScheduler("warmup_stable_decay"): numTrainingSteps or numStableSteps is required');
  }
  // As transformers: numStableSteps wins when both are given.
  const stable = opts.numStableSteps ?? opts.numTrainingSteps! - W - decaySteps;
  const warmupType = wsdCurve(opts.warmupType ?? "linear", "warmupType");
  const decayType = wsdCurve(opts.decayType ?? "cosine", "decayType");
  const m = opts.minLrRatio ?? 0;
  const cycles = opts.numCycles ?? 0.5;
  return (s) => {
    if (s < W) {
      const p = s / Math.max(1, W);
      const f = warmupType === "linear" ? p : warmupType === "cosine" ? 0.5 * (1 - Math.cos(Math.PI * p)) : 1 - Math.sqrt(1 - p);
      return Math.max(0, f * (1 - m) + m);
    }
    if (s < W + stable) return 1;
    if (s < W + stable + decaySteps) {
      const p = (s - W - stable) / Math.max(1, decaySteps);
      const f = decayType === "linear" ? 1 - p : decayType === "cosine" ? cosineCurve(cycles, p) : 1 - Math.sqrt(p);
      return Math.max(0, f * (1 - m) + m);
    }
    return m;
  };
}
