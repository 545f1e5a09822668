import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { forgettingStudy, type ForgettingStudy } from "../../src/forgetting/index.js";
import { evaluateLoss } from "../../src/train/index.js";

// A short study on the shipped base: 2 steps, evaluated once at the end.
let study: ForgettingStudy;
beforeAll(async () => {
  study = await forgettingStudy({ seed: 0, steps: 2, lr: 1e-3, evalEvery: 2, trainWindows: 16, evalWindows: 8 });
}, 120_000);

describe("forgettingStudy(options)", () => {
  it("fills in the defaults and splits the held-out sets into the new domain and the retained text", () => {
    expect(study.options).toMatchObject({ base: "tiny", batchSize: 8, windowLength: 64, margin: 0.005, trainWindows: 16 });
    expect(study.trainWindows).toHaveLength(16);
    expect(study.trainWindows.every((w) => w.length === 65)).toBe(true);
    // 8 windows per set in batches of 8: one domain batch; press then fiction for the retained text.
    expect(study.evalSets.domain).toEqual(study.data.domainEval);
    expect(study.evalSets.retained).toEqual([...study.data.retain.press, ...study.data.retain.fiction]);
  });

  it("measures the base once: its losses are those of a freshly loaded base", async () => {
    const base = await study.loadBase();
    try {
      expect(study.baseline.domain).toBeCloseTo(await evaluateLoss(base, study.evalSets.domain), 6);
      expect(study.baseline.retained).toBeCloseTo(await evaluateLoss(base, study.evalSets.retained), 6);
    } finally {
      base.dispose();
    }
  });

  it("outcome and seedCheck: runOutcome against this study's base, seed checks with this study's margin", async () => {
    const model = await study.loadBase();
    try {
      const run = await study.finetune("two steps", model);
      const outcome = study.outcome(run);
      // Two steps at lr 1e-3 from a pretrained base neither diverge nor blow up the domain loss.
      expect(outcome.kind).not.toBe("diverged");
      // margin 0.005: a steady difference of 0.003 over three seeds is inside it, 0.01 beyond it.
      const a = { label: "a", values: [1, 1.2, 1.4] };
      const near = { label: "b", values: [0.997, 1.197, 1.397] };
      const far = { label: "b", values: [0.99, 1.19, 1.39] };
      expect(study.seedCheck("a above b", a, "above", near, [0, 1, 2]).outcome).toBe("inconclusive");
      expect(study.seedCheck("a above b", a, "above", far, [0, 1, 2]).outcome).toBe("holds");
    } finally {
      model.dispose();
    }
  });

  it("finetune: learned and forgot are the trained model's losses, re-evaluated, against the base's", async () => {
    const model = await study.loadBase();
    try {
      const run = await study.finetune("two steps", model);
      expect(run.events.filter((e) => e.type === "step")).toHaveLength(2);
      expect(run.history.map((h) => h.step)).toEqual([0, 2]); // the baseline, then the one evaluation
      const domain = await evaluateLoss(model, study.evalSets.domain);
      const retained = await evaluateLoss(model, study.evalSets.retained);
      expect(run.gain).toBeCloseTo(study.baseline.domain - domain, 5);
      expect(run.forgetting).toBeCloseTo(retained - study.baseline.retained, 5);
      expect(run.trainable).toBe(model.numParameters());
      expect(run.msPerStep).toBeGreaterThan(0);
    } finally {
      model.dispose();
    }
  }, 120_000);

  it("above / below count differences within the margin as a tie", () => {
    expect([study.above(0.006, 0), study.above(0.004, 0), study.below(1, 1.004), study.below(1, 1.006)]).toEqual([
      true,
      false,
      false,
      true,
    ]);
  });

  it("printVerdict prints the verdict computed from the checks, with the study's seed", () => {
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      study.printVerdict("claim 0", [
        { what: "a", ok: true, numbers: "1" },
        { what: "b", ok: false, numbers: "2" },
      ]);
      expect(log.mock.calls[0][0]).toBe(
        "Verdict on claim 0: PARTLY SUPPORTED at this scale (1 of 2 checks hold; seed 0)\n  [holds] a: 1\n  [fails] b: 2",
      );
    } finally {
      log.mockRestore();
    }
  });

  it("refuses a missing number, naming the option", async () => {
    await expect(forgettingStudy({ seed: 0, steps: Number.NaN, lr: 1e-3, evalEvery: 1 })).rejects.toThrow(
      /steps must be a finite number; got NaN/,
    );
    await expect(forgettingStudy({ seed: 0, steps: 1, lr: 1e-3, evalEvery: 1, trainWindows: 0 })).rejects.toThrow(
      /trainWindows must be at least 1/,
    );
  });
});

afterAll(() => vi.restoreAllMocks());
