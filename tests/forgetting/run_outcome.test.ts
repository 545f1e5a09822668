import { describe, expect, it } from "vitest";
import { retentionRecord, runOutcome, studyRun, type RunCurves } from "../../src/forgetting/index.js";
import type { TrainEvent } from "../../src/train/index.js";

const BASE = { domain: 2.0, retained: 1.9 };

/** Step events with these training losses, steps 1..n. */
const steps = (losses: readonly number[]): TrainEvent[] =>
  losses.map((loss, i) => ({
    type: "step",
    step: i + 1,
    loss,
    lr: 1e-3,
    tokensPerSecond: 512,
    gradNorm: 1,
    gradNorms: {},
    updateRatios: {},
  }));

/** A run: its step losses, and one final evaluation (after the step-0 record of the base, as trackRetention keeps). */
function curves(losses: readonly number[], last: { domain: number; retained: number }, name = "run"): RunCurves {
  const evals = [
    { step: 0, losses: { ...BASE } },
    { step: losses.length, losses: last },
  ];
  return { name, events: steps(losses), history: evals.map((e) => retentionRecord(e, BASE, ["retained"])) };
}

const range = (n: number, f: (s: number) => number) => Array.from({ length: n }, (_, i) => f(i + 1));
/** Falls 0.01 a step from 2.0: 1.99, 1.98, ... */
const learning = range(40, (s) => 2.0 - 0.01 * s);

describe("runOutcome(run, baseline)", () => {
  it("learned and forgot: the held-out domain loss fell and the retained loss rose, each by more than the margin", () => {
    const o = runOutcome(curves(learning, { domain: 1.95, retained: 2.1 }), BASE);
    expect(o.kind).toBe("learned and forgot");
    expect(o.turn).toBeUndefined();
    expect(o.text).toBe(
      "learned and forgot: domain loss 2.000 -> 1.950 (learned 0.050), retained loss 1.900 -> 2.100 (forgot 0.200) at step 40",
    );
  });

  it("learned, kept: a retained rise within the margin is no forgetting", () => {
    expect(runOutcome(curves(learning, { domain: 1.95, retained: 1.904 }), BASE).kind).toBe("learned, kept");
    expect(runOutcome(curves(learning, { domain: 1.95, retained: 1.904 }), BASE, { margin: 0.001 }).kind).toBe("learned and forgot");
  });

  it("diverged: the training loss ends above where it started; named with the step and loss where it turned", () => {
    // Falls 0.01 a step to 1.80 at step 20, then rises 0.05 a step to 2.80 at step 40. Window 10
    // (a quarter of 40): the start is the mean of steps 1-10, 1.945; the end that of steps 31-40,
    // 1.80 + 0.05 x 15.5 = 2.575. The trailing mean is lowest ending at step 21: steps 12-20
    // (1.88..1.80, sum 16.56) plus step 21 (1.85) = 18.41 / 10 = 1.841; at step 20 it is 1.845 and
    // at step 22 1.843. Its retained loss rose 0.6: that is the run breaking, not forgetting.
    const losses = range(40, (s) => (s <= 20 ? 2.0 - 0.01 * s : 1.8 + 0.05 * (s - 20)));
    const o = runOutcome(curves(losses, { domain: 2.4, retained: 2.5 }), BASE);
    expect(o.kind).toBe("diverged");
    expect(o.turn!.step).toBe(21);
    expect(o.turn!.loss).toBeCloseTo(1.841, 12);
    expect(o.text).toBe(
      "diverged: the training loss (mean of 10 steps) turned at step 21 (1.841) and ended at 2.575 (step 40), " +
        "above its start 1.945 (step 10) by more than 0.1",
    );
  });

  it("diverged: a climb above 1.5 x the base's domain loss counts even when the loss comes back down", () => {
    // 2.0 for steps 1-10, 4.0 for 11-20, then 1.9. Window 5: the mean ending at step 13 is
    // (2 + 2 + 4 + 4 + 4) / 5 = 3.2 > 3.0, the first above. The turn is read on the step losses:
    // the first above 3.0 is step 11, and the last at the lowest before it is step 10 (2.0).
    const losses = range(40, (s) => (s <= 10 ? 2.0 : s <= 20 ? 4.0 : 1.9));
    const o = runOutcome(curves(losses, { domain: 1.99, retained: 2.2 }), BASE, { window: 5 });
    expect(o.kind).toBe("diverged");
    expect(o.turn).toEqual({ step: 10, loss: 2.0 });
    expect(o.text).toBe(
      "diverged: the training loss turned at step 10 (2.000) and rose to 4.000 at step 11, " +
        "above 1.5 x the base's new-domain loss 2.000; its mean over 5 steps reached 3.200 at step 13",
    );
    // Without the spike the same run learned and forgot.
    expect(runOutcome(curves(losses, { domain: 1.99, retained: 2.2 }), BASE, { window: 5, factor: 3 }).kind).toBe("learned and forgot");
  });

  it("diverged: a run above 1.5 x the base's loss from its first step turns where it began", () => {
    const o = runOutcome(
      curves(
        range(20, () => 3.5),
        { domain: 3.4, retained: 3.3 },
      ),
      BASE,
      { window: 5 },
    );
    expect(o.kind).toBe("diverged");
    expect(o.turn).toEqual({ step: 1, loss: 3.5 });
  });

  it("diverged: a NaN training loss, named with its step and the last finite loss", () => {
    const losses = learning.map((l, i) => (i === 6 ? Number.NaN : l));
    const o = runOutcome(curves(losses, { domain: 1.95, retained: 2.1 }), BASE);
    expect(o.kind).toBe("diverged");
    expect(o.turn!.step).toBe(7);
    expect(o.turn!.loss).toBeNaN();
    expect(o.text).toBe("diverged: the training loss was NaN at step 7 (last finite: 1.940 at step 6)");
  });

  it("diverged: an infinite evaluation loss", () => {
    const o = runOutcome(curves(learning, { domain: 1.95, retained: Infinity }), BASE);
    expect(o).toEqual({
      name: "run",
      kind: "diverged",
      turn: { step: 40, loss: Infinity },
      text: "diverged: the retained loss was Infinity at the evaluation of step 40",
    });
  });

  it("did not learn: a flat training loss, within noise of its start", () => {
    const flat = range(40, (s) => 2.0 + (s % 2 === 0 ? 0.02 : -0.02));
    const o = runOutcome(curves(flat, { domain: 2.002, retained: 1.91 }), BASE);
    expect(o.kind).toBe("did not learn");
    expect(o.text).toBe(
      "did not learn: domain loss 2.000 -> 2.002 (learned -0.002), retained loss 1.900 -> 1.910 (forgot 0.010) at step 40",
    );
  });

  it("did not learn, but fitted its training windows: training loss down, held-out domain loss up (not divergence)", () => {
    const memorising = range(40, (s) => 2.0 - 0.04 * s); // 1.96 .. 0.40
    const o = runOutcome(curves(memorising, { domain: 4.3, retained: 4.1 }), BASE);
    expect(o.kind).toBe("did not learn");
    // Steps 1-10: mean 2.0 - 0.04 x 5.5 = 1.78; steps 31-40: 2.0 - 0.04 x 35.5 = 0.58.
    expect(o.text).toMatch(
      /\(learned -2\.300\), .*\(forgot 2\.200\) at step 40; its training loss \(mean of 10 steps\) fell 1\.780 -> 0\.580: it fitted/,
    );
  });

  it("reads a study run as it is (studyRun's shape)", () => {
    const c = curves(learning, { domain: 1.95, retained: 2.1 }, "naive");
    const run = studyRun(
      { ...c, events: [...c.events], history: [...c.history], trainableParams: 1, totalParams: 1, seconds: 1 },
      BASE,
      512,
    );
    expect(runOutcome(run, BASE).name).toBe("naive");
    expect(runOutcome(run, BASE).kind).toBe("learned and forgot");
  });

  it("refuses a run without step events or evaluations, a bad window, a non-finite baseline", () => {
    const c = curves(learning, { domain: 1.95, retained: 2.1 }, "x");
    expect(() => runOutcome({ ...c, events: [] }, BASE)).toThrow(/runOutcome\("x"\): the run has no step events/);
    expect(() => runOutcome({ ...c, history: [] }, BASE)).toThrow(/runOutcome\("x"\): the run has no evaluation records/);
    expect(() => runOutcome(c, BASE, { window: 41 })).toThrow(/window must be a whole number of steps from 1 to the run's 40; got 41/);
    expect(() => runOutcome(c, { domain: Number.NaN, retained: 1 })).toThrow(/baseline.domain must be a finite loss; got NaN/);
    expect(() => runOutcome(c, BASE, { rise: -1 })).toThrow(/rise must be a number >= 0; got -1/);
  });
});
