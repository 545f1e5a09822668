import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { getScheduler, resolveWarmupSteps, SCHEDULER_NAMES, type ScheduleOptions, type SchedulerName } from "../../src/optim/index.js";

// Reference values: transformers' formulas evaluated in Python by tests/fixtures/make_optim_fixtures.py.
const fixture = JSON.parse(readFileSync(new URL("../fixtures/optim/schedules.json", import.meta.url), "utf8")) as {
  cases: { name: SchedulerName; options: ScheduleOptions; steps: number[]; values: number[] }[];
};

describe("getScheduler(name, opts)(step)", () => {
  it("covers every schedule name in the fixture", () => {
    expect(new Set(fixture.cases.map((c) => c.name))).toEqual(new Set(SCHEDULER_NAMES));
  });

  for (const c of fixture.cases) {
    it(`${c.name} ${JSON.stringify(c.options)} equals transformers' lambda to 1e-12 at every step, past the end included`, () => {
      const lr = getScheduler(c.name, c.options);
      const worst = Math.max(...c.steps.map((s, i) => Math.abs(lr(s) - c.values[i])));
      expect(worst).toBeLessThan(1e-12);
    });
  }

  it("matches hand-derived values: cosine is 0 at warmup start, 1 at its end, 0.5 halfway, 0 at the last step", () => {
    const lr = getScheduler("cosine", { numWarmupSteps: 10, numTrainingSteps: 110 });
    expect([lr(0), lr(5), lr(10), lr(60), lr(110)].map((v) => +v.toFixed(15))).toEqual([0, 0.5, 1, 0.5, 0]);
    const linear = getScheduler("linear", { numWarmupSteps: 0, numTrainingSteps: 4 });
    expect([0, 1, 2, 3, 4, 5].map(linear)).toEqual([1, 0.75, 0.5, 0.25, 0, 0]);
  });

  it("resolves warmupRatio as TrainingArguments: ceil(T * ratio), numWarmupSteps > 0 wins", () => {
    expect(resolveWarmupSteps({ warmupRatio: 0.03, numTrainingSteps: 1000 })).toBe(30);
    expect(resolveWarmupSteps({ warmupRatio: 0.1, numTrainingSteps: 95 })).toBe(10);
    expect(resolveWarmupSteps({ numWarmupSteps: 7, warmupRatio: 0.5, numTrainingSteps: 100 })).toBe(7);
  });

  it("names what is missing or unknown", () => {
    expect(() => getScheduler("cosine", {})).toThrow(/cosine.*numTrainingSteps is required/);
    expect(() => getScheduler("polynomial", { numTrainingSteps: 10 })).toThrow(/polynomial.*lr is required/);
    expect(() => getScheduler("polynomial", { numTrainingSteps: 10, lr: 1e-8 })).toThrow(/lrEnd \(1e-7\) must be smaller than the peak lr/);
    expect(() => getScheduler("cosine_with_min_lr", { numTrainingSteps: 10 })).toThrow(/minLr.*minLrRate/);
    expect(() => getScheduler("warmup_stable_decay", { numTrainingSteps: 10 })).toThrow(/numDecaySteps is required/);
    expect(() => getScheduler("nope" as SchedulerName)).toThrow(/unknown schedule "nope"; available: linear, cosine/);
    expect(() => getScheduler("reduce_lr_on_plateau" as SchedulerName)).toThrow(/depends on metrics/);
    expect(() => getScheduler("linear", { warmupRatio: 0.1 })).toThrow(/warmupRatio needs numTrainingSteps/);
  });
});
