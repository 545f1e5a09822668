/** What one fine-tuning run leaves: final losses, forgetting, trainable parameters, time per step. */
interface RunResult {
  name: string;
  events: lab.TrainEvent[];
  history: lab.RetentionRecord[];
  domainLoss: number;
  retainedLoss: number;
  /** How much the new domain's loss fell (nats/byte): what was learned. */
  gain: number;
  /** How much the retained loss rose (nats/byte): what was forgotten. */
  forgetting: number;
  trainable: number;
  msPerStep: number;
}

/** Median time of a training step (the trainer's own clock: evaluations excluded). */
function medianStepMs(events: lab.TrainEvent[]): number {
  const ms = events.flatMap((e) => (e.type === "step" ? [(BATCH * WINDOW * 1000) / e.tokensPerSecond] : [])).sort((a, b) => a - b);
  return ms[Math.floor(ms.length / 2)];
}

/** Fine-tunes `model` on the new domain's training windows, evaluating both sets as it goes. */
async function finetune(name: string, model: lab.Module & lab.TrainableModel, opts: Partial<lab.TrainOptions> = {}, windows = trainWindows): Promise<RunResult> {
  const tracker = lab.trackRetention(model, { sets: evalSets, baseline, retained: ["retained"] });
  const { events } = await lab.train(model, {
    data: lab.batchStream(windows, { batchSize: BATCH, seed: SEED })[Symbol.iterator](),
    steps: STEPS,
    lr: LR,
    evalEvery: EVAL_EVERY,
    evalSets,
    ...opts,
    onEvent: (e) => { tracker.onEvent(e); opts.onEvent?.(e); },
  });
  const last = tracker.history[tracker.history.length - 1];
  return {
    name,
    events,
    history: tracker.history,
    domainLoss: last.losses.domain,
    retainedLoss: last.losses.retained,
    gain: baseline.domain - last.losses.domain,
    forgetting: last.forgetting.retained,
    trainable: model.numParameters({ trainableOnly: true }),
    msPerStep: medianStepMs(events),
  };
}

/** Retained and new-domain loss curves (step 0 is the base) for forgettingFigure. */
const curves = (runs: RunResult[]) => runs.map((r) => ({
  strategy: r.name,
  baselineLoss: baseline.retained,
  points: [{ step: 0, retainedLoss: baseline.retained, targetLoss: baseline.domain }, ...r.history.map((h) => ({ step: h.step, retainedLoss: h.losses.retained, targetLoss: h.losses.domain }))],
}));
const tradeoff = (runs: RunResult[]) => runs.map((r) => ({ strategy: r.name, gain: r.gain, forgetting: r.forgetting }));

/** A plain-text table: one row per run. */
function summary(runs: RunResult[]): void {
  const rows = runs.map((r) => [r.name, r.trainable.toLocaleString("en-US"), r.domainLoss.toFixed(3), r.gain.toFixed(3), r.retainedLoss.toFixed(3), r.forgetting.toFixed(3), r.msPerStep.toFixed(0)]);
  printTable(["run", "trainable", "domain loss", "learned", "retained loss", "forgot", "ms/step"], rows);
  console.log("losses in nats/byte; learned = fall of the new-domain loss, forgot = rise of the retained loss, both vs the base");
}
