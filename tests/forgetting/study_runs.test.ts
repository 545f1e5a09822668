import { describe, expect, it } from "vitest";
import {
  medianStepMs,
  studyCurves,
  studyRun,
  studyTable,
  studyTradeoff,
  type RetentionRecord,
  type StudyRun,
} from "../../src/forgetting/index.js";
import type { TrainEvent } from "../../src/train/index.js";

const step = (s: number, tokensPerSecond: number): TrainEvent => ({
  type: "step",
  step: s,
  loss: 2,
  lr: 1e-3,
  gradNorm: 1,
  gradNorms: {},
  updateRatios: {},
  tokensPerSecond,
});
const record = (s: number, domain: number, retained: number, base = { domain: 2.0, retained: 1.8 }): RetentionRecord => ({
  step: s,
  losses: { domain, retained },
  perplexities: { domain: Math.exp(domain), retained: Math.exp(retained) },
  forgetting: { retained: retained - base.retained },
  backwardTransfer: base.retained - retained,
});
const baseline = { domain: 2.0, retained: 1.8 };

describe("medianStepMs(events, tokensPerStep)", () => {
  it("is the median of tokensPerStep / tokensPerSecond over step events, in ms; eval events are left out", () => {
    // 512 tokens per step at 1024, 2048 and 512 tokens/s: 500, 250 and 1000 ms; median 500.
    const events: TrainEvent[] = [step(1, 1024), { type: "eval", step: 1, losses: {}, perplexities: {} }, step(2, 2048), step(3, 512)];
    expect(medianStepMs(events, 512)).toBe(500);
    // An even count takes the upper middle (the notebooks always have): 250, 500 -> 500.
    expect(medianStepMs([step(1, 2048), step(2, 1024)], 512)).toBe(500);
  });

  it("refuses events without a step", () => {
    expect(() => medianStepMs([], 512)).toThrow(/no step event/);
  });
});

describe("studyRun(run, baseline, tokensPerStep)", () => {
  it("reads the last evaluation: learned = base - final domain loss, forgot = final retained loss - base", () => {
    const run = studyRun(
      {
        name: "naive",
        events: [step(1, 1000), step(2, 1000)],
        history: [record(32, 1.9, 2.0), record(64, 1.75, 2.3)],
        trainableParams: 1234,
        totalParams: 5000,
        seconds: 3,
      },
      baseline,
      100,
    );
    expect(run.name).toBe("naive");
    expect(run.domainLoss).toBe(1.75);
    expect(run.retainedLoss).toBe(2.3);
    expect(run.gain).toBeCloseTo(0.25, 12);
    expect(run.forgetting).toBeCloseTo(0.5, 12);
    expect(run.trainable).toBe(1234);
    expect(run.msPerStep).toBe(100);
    expect(run.history).toHaveLength(2);
  });

  it("names the run that was never evaluated", () => {
    const run = { name: "empty", events: [step(1, 1)], history: [], trainableParams: 1, totalParams: 1, seconds: 0 };
    expect(() => studyRun(run, baseline, 1)).toThrow(/"empty" has no evaluation records/);
  });
});

const runOf = (name: string, gain: number, forgetting: number, history: RetentionRecord[] = []): StudyRun => ({
  name,
  events: [],
  history,
  domainLoss: 2 - gain,
  retainedLoss: 1.8 + forgetting,
  gain,
  forgetting,
  trainable: 16384,
  msPerStep: 86.4,
});

describe("studyTable(runs)", () => {
  it("has one row per run with its numbers to three decimals, and says what the columns mean", () => {
    const lines = studyTable([runOf("LoRA", -0.002, 0.017), runOf("full fine-tuning", 0.011, 0.027)]).split("\n");
    expect(lines[0].split(/\s{2,}/)).toEqual(["run", "trainable", "domain loss", "learned", "retained loss", "forgot", "ms/step"]);
    expect(lines[2].split(/\s{2,}/)).toEqual(["LoRA", "16,384", "2.002", "-0.002", "1.817", "0.017", "86"]);
    expect(lines[3].split(/\s{2,}/)).toEqual(["full fine-tuning", "16,384", "1.989", "0.011", "1.827", "0.027", "86"]);
    expect(lines[4]).toMatch(/^losses in nats\/byte; learned = fall of the new-domain loss, forgot = rise of the retained loss/);
    expect(lines).toHaveLength(5);
  });
});

describe("studyCurves(runs, baseline) and studyTradeoff(runs)", () => {
  it("starts every curve at step 0 at the base's losses, then one point per evaluation", () => {
    const [curve] = studyCurves([runOf("a", 0.1, 0.2, [record(40, 1.9, 2.0), record(80, 1.8, 2.1)])], baseline);
    expect(curve).toEqual({
      strategy: "a",
      baselineLoss: 1.8,
      points: [
        { step: 0, retainedLoss: 1.8, targetLoss: 2.0 },
        { step: 40, retainedLoss: 2.0, targetLoss: 1.9 },
        { step: 80, retainedLoss: 2.1, targetLoss: 1.8 },
      ],
    });
  });

  it("gives one learned-vs-forgotten point per run", () => {
    expect(studyTradeoff([runOf("a", 0.1, 0.2), runOf("b", -0.3, 0.05)])).toEqual([
      { strategy: "a", gain: 0.1, forgetting: 0.2 },
      { strategy: "b", gain: -0.3, forgetting: 0.05 },
    ]);
  });
});
