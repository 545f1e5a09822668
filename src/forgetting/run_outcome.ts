import type { TrainEvent } from "../train/index.js";
import type { RetentionRecord } from "./retention.js";

/**
 * What one fine-tuning run did, read from its curves: did it learn the new domain, did it forget
 * the retained text, or did it diverge? A diverged run's retained loss rises because the model is
 * breaking, not because learning the new domain pushed out the old: counting that rise as
 * forgetting would credit the claim "naive fine-tuning forgets" with an optimizer failure. So a
 * run is classified before its numbers are used, and a diverged one is named as such.
 *
 * Divergence is read from the training loss (the step events), the loss on the domain the run
 * trains on, smoothed by a trailing mean over `window` steps since one batch's loss is noisy:
 *
 * - a non-finite loss anywhere (a training step or an evaluation);
 * - or the smoothed loss ends above where it started by more than `rise` nats: training went
 *   backwards on its own objective;
 * - or the smoothed loss climbs above `factor` times the base's loss on the new domain at any
 *   point: a model that far above where it began has lost what it knew, and what it measures
 *   after that (even if the loss comes back down) is relearning, not fine-tuning.
 *
 * The trainer's divergence guard (train/divergence_guard.ts) stops a run whose loss jumps many
 * nats above its running minimum; the rules here catch the slower climbs it lets finish. As there,
 * the turn is where the loss was lowest before it rose: the checkpoint to go back to.
 *
 * A run that did not diverge is judged on its last evaluation, against the base (as studyRun):
 * learned when the held-out new-domain loss fell by more than `margin`, forgot when the retained
 * loss rose by more than `margin`. A run whose training loss fell while its held-out domain loss
 * did not "did not learn" the domain (it fitted its training windows); the text says so.
 */
export type RunOutcomeKind = "learned and forgot" | "learned, kept" | "diverged" | "did not learn";

export interface RunOutcome {
  name: string;
  kind: RunOutcomeKind;
  /**
   * A diverged run's turning point: the last step at its lowest training loss before it rose, and
   * that loss (the smoothed loss for a slow climb, a step's own for one past `factor`); for a
   * non-finite loss, the step that gave it and the value.
   */
  turn?: { step: number; loss: number };
  /** The kind and the numbers behind it, in words. */
  text: string;
}

export interface RunOutcomeOptions {
  /** Changes under this many nats/token count as none (learned / forgot); default 0.005, the studies' margin. */
  margin?: number;
  /** The end-over-start rise of the smoothed training loss that counts as divergence, in nats; default 0.1. */
  rise?: number;
  /** Smoothed training loss above this multiple of the base's new-domain loss is divergence; default 1.5. */
  factor?: number;
  /** Steps in the trailing mean; default a quarter of the run's steps (at least 1). */
  window?: number;
}

/** The curves runOutcome reads: a study run (StudyRun) has them. */
export interface RunCurves {
  name: string;
  /** The trainer's events: the step events' `loss` is the training loss. */
  events: readonly TrainEvent[];
  /** Evaluations with `losses.domain` (held-out new domain) and `losses.retained`. */
  history: readonly RetentionRecord[];
}

const f3 = (x: number) => x.toFixed(3);

/** Classifies a run from its curves against the base's losses (the study's baseline). */
export function runOutcome(run: RunCurves, baseline: { domain: number; retained: number }, opts: RunOutcomeOptions = {}): RunOutcome {
  const { margin = 0.005, rise = 0.1, factor = 1.5 } = opts;
  const where = `runOutcome("${run.name}")`;
  for (const [key, value] of Object.entries({ margin, rise, factor }))
    if (!(value >= 0)) throw new Error(`${where}: ${key} must be a number >= 0; got ${value}`);
  for (const key of ["domain", "retained"] as const)
    if (!Number.isFinite(baseline[key])) throw new Error(`${where}: baseline.${key} must be a finite loss; got ${baseline[key]}`);
  const steps = run.events.flatMap((e) => (e.type === "step" ? [{ step: e.step, loss: e.loss }] : []));
  if (steps.length === 0)
    throw new Error(`${where}: the run has no step events; its training loss (the trainer's step events) is what shows divergence`);
  const last = run.history[run.history.length - 1];
  if (!last) throw new Error(`${where}: the run has no evaluation records; expected its retention history`);
  const diverged = (turn: { step: number; loss: number }, text: string): RunOutcome => ({
    name: run.name,
    kind: "diverged",
    turn,
    text: `diverged: ${text}`,
  });

  const bad = steps.findIndex((s) => !Number.isFinite(s.loss));
  if (bad >= 0) {
    const before = bad > 0 ? ` (last finite: ${f3(steps[bad - 1].loss)} at step ${steps[bad - 1].step})` : "";
    return diverged(steps[bad], `the training loss was ${steps[bad].loss} at step ${steps[bad].step}${before}`);
  }
  for (const record of run.history)
    for (const set of ["domain", "retained"])
      if (!Number.isFinite(record.losses[set]))
        return diverged(
          { step: record.step, loss: record.losses[set] },
          `the ${set} loss was ${record.losses[set]} at the evaluation of step ${record.step}`,
        );

  const window = opts.window ?? Math.max(1, Math.floor(steps.length / 4));
  if (!(Number.isInteger(window) && window >= 1 && window <= steps.length))
    throw new Error(`${where}: window must be a whole number of steps from 1 to the run's ${steps.length}; got ${window}`);
  // smooth[i]: the mean of the `window` step losses ending at steps[window - 1 + i].
  const smooth: { step: number; loss: number }[] = [];
  let sum = 0;
  steps.forEach((s, i) => {
    sum += s.loss - (i >= window ? steps[i - window].loss : 0);
    if (i >= window - 1) smooth.push({ step: s.step, loss: sum / window });
  });
  // The last point at the lowest loss up to index `upTo`: where the curve turned upward.
  const lowest = (points: typeof steps, upTo: number) => points.slice(0, upTo + 1).reduce((m, p) => (p.loss <= m.loss ? p : m));
  const start = smooth[0];
  const end = smooth[smooth.length - 1];
  const mean = window === 1 ? "" : ` (mean of ${window} steps)`;
  const ceiling = factor * baseline.domain;
  const high = smooth.findIndex((p) => p.loss > ceiling);
  if (high >= 0) {
    // A climb this steep can happen inside one window, so the turn is located on the step losses:
    // the first above the ceiling (at or before the mean crossed it) and the lowest before that.
    const first = steps.findIndex((s) => s.loss > ceiling);
    const turn = lowest(steps, first);
    return diverged(
      turn,
      `the training loss turned at step ${turn.step} (${f3(turn.loss)}) and rose to ${f3(steps[first].loss)} at step ` +
        `${steps[first].step}, above ${factor} x the base's new-domain loss ${f3(baseline.domain)}` +
        `${window === 1 ? "" : `; its mean over ${window} steps reached ${f3(smooth[high].loss)} at step ${smooth[high].step}`}`,
    );
  }
  if (end.loss > start.loss + rise) {
    const turn = lowest(smooth, smooth.length - 1);
    return diverged(
      turn,
      `the training loss${mean} turned at step ${turn.step} (${f3(turn.loss)}) and ended at ${f3(end.loss)} (step ${end.step}), ` +
        `above its start ${f3(start.loss)} (step ${start.step}) by more than ${rise}`,
    );
  }

  const gain = baseline.domain - last.losses.domain;
  const forgot = last.losses.retained - baseline.retained;
  const numbers =
    `domain loss ${f3(baseline.domain)} -> ${f3(last.losses.domain)} (learned ${f3(gain)}), ` +
    `retained loss ${f3(baseline.retained)} -> ${f3(last.losses.retained)} (forgot ${f3(forgot)}) at step ${last.step}`;
  if (!(gain > margin)) {
    const fitted =
      end.loss < start.loss - rise
        ? `; its training loss${mean} fell ${f3(start.loss)} -> ${f3(end.loss)}: it fitted its training windows`
        : "";
    return { name: run.name, kind: "did not learn", text: `did not learn: ${numbers}${fitted}` };
  }
  const kind: RunOutcomeKind = forgot > margin ? "learned and forgot" : "learned, kept";
  return { name: run.name, kind, text: `${kind}: ${numbers}` };
}
