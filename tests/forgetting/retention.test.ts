import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { expectNoLeak, ready } from "../../src/engine/index.js";
import { measureBaseline, retentionRecord, trackRetention } from "../../src/forgetting/index.js";
import { getPeftModel } from "../../src/peft/index.js";
import { forgettingFigure } from "../../src/plot/index.js";
import { evaluateLoss, train, type EvalEvent } from "../../src/train/index.js";
import { tinyModel, toBatches, windows } from "./helpers.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

const T = 16;
// The new domain: tokens 0-15 only; the retained "general" text: all 64 tokens.
const domainTrain = toBatches(windows(16, T, 3, 16), 4);
const sets = { domain: toBatches(windows(4, T, 5, 16), 4), general: toBatches(windows(4, T, 13), 4) };

describe("retentionRecord(event, baseline, retained)", () => {
  it("computes forgetting = loss - baseline per retained set, backward transfer = -mean forgetting, perplexity = exp(loss)", () => {
    const r = retentionRecord({ step: 4, losses: { domain: 1.5, press: 3.25, fiction: 2.0 } }, { press: 3.0, fiction: 2.5 }, [
      "press",
      "fiction",
    ]);
    expect(r.forgetting).toEqual({ press: 0.25, fiction: -0.5 });
    expect(r.backwardTransfer).toBe(0.125); // -(0.25 - 0.5) / 2
    expect(r.perplexities.domain).toBeCloseTo(4.4816890703, 9);
    expect(r.step).toBe(4);
    expect(() => retentionRecord({ step: 1, losses: { domain: 1 } }, { press: 3 }, ["press"])).toThrow(
      /"press" is not among the evaluated sets; available: domain/,
    );
  });
});

describe("trackRetention(model, { sets, baseline })", () => {
  it("records every trainer evaluation; on a small run forgetting equals the retained loss (re-evaluated independently) minus the baseline", async () => {
    const model = tinyModel(0);
    const baseline = await measureBaseline(model, { general: sets.general });
    const tracker = trackRetention(model, { sets, baseline });
    const evals: EvalEvent[] = [];
    await train(model, {
      data: domainTrain,
      steps: 6,
      lr: 3e-3,
      evalEvery: 3,
      evalSets: sets,
      progress: false,
      onEvent: (e) => {
        tracker.onEvent(e);
        if (e.type === "eval") evals.push(e);
      },
    });
    expect(tracker.history.map((r) => r.step)).toEqual([0, 3, 6]);
    // Step 0 is the baseline itself, measured before training.
    expect(tracker.history[0]).toMatchObject({ losses: baseline, forgetting: { general: 0 }, backwardTransfer: -0 });
    const last = tracker.history[2];
    const generalNow = await evaluateLoss(model, sets.general);
    expect(last.losses.general).toBe(generalNow);
    expect(last.forgetting.general).toBeCloseTo(generalNow - baseline.general, 12);
    expect(last.backwardTransfer).toBeCloseTo(baseline.general - generalNow, 12);
    expect(Object.keys(last.forgetting)).toEqual(["general"]);
    expect(last.perplexities).toEqual(evals[1].perplexities);
    // Plottable as it is: the curve starts at 0 and ends at the re-evaluated forgetting.
    const [trace] = forgettingFigure(tracker).data as { x: number[]; y: number[] }[];
    expect(trace.x).toEqual([0, 3, 6]);
    expect(trace.y[0]).toBe(0);
    expect(trace.y[2]).toBeCloseTo(generalNow - baseline.general, 12);
    // Training on the 16-token domain teaches it and shifts the general loss away from the base's.
    expect(last.losses.domain).toBeLessThan(evals[0].losses.domain + 1e-9);
    expect(last.forgetting.general).not.toBe(0);
  });

  it("names what was wrong: a retained set without batches or baseline, adapterDisabled on a plain model", () => {
    const model = tinyModel(1);
    expect(() => trackRetention(model, { sets, baseline: { press: 1 } })).toThrow(
      /retained set "press" is not in sets; available: domain, general/,
    );
    expect(() => trackRetention(model, { sets, baseline: {}, retained: ["general"] })).toThrow(
      /no baseline loss for retained set "general"/,
    );
    expect(() => trackRetention(model, { sets, baseline: {}, adapterDisabled: true })).toThrow(/disableAdapter/);
  });

  it("with adapterDisabled, a trained LoRA model evaluates exactly to the base model's loss, while enabled it differs", async () => {
    const base = tinyModel(2);
    const baseLosses = await measureBaseline(base, sets); // before wrapping: the independent reference
    const model = getPeftModel(base, { r: 4, loraAlpha: 8, targetModules: ["c_attn", "c_fc"], fanInFanOut: true });
    const tracker = trackRetention(model, { sets, baseline: { general: baseLosses.general }, adapterDisabled: true });
    await expectNoLeak(() =>
      train(model, { data: domainTrain, steps: 4, lr: 1e-2, evalEvery: 2, evalSets: sets, progress: false, onEvent: tracker.onEvent }),
    );
    expect(tracker.history.map((r) => r.step)).toEqual([0, 2, 4]);
    expect(tracker.history[0].losses).toEqual({ general: baseLosses.general }); // the baseline given: only "general"
    for (const r of tracker.history.slice(1)) {
      expect(r.adapterDisabledLosses).toEqual(baseLosses);
      expect(r.losses.domain).not.toBe(baseLosses.domain);
    }
  });

  it("starts the history with the baseline at step 0, which a measured step-0 evaluation replaces", () => {
    const tracker = trackRetention(tinyModel(3), { sets, baseline: { general: 4, domain: 3 }, retained: ["general"] });
    expect(tracker.history).toEqual([
      {
        step: 0,
        losses: { domain: 3, general: 4 },
        perplexities: { domain: Math.exp(3), general: Math.exp(4) },
        forgetting: { general: 0 },
        backwardTransfer: -0,
      },
    ]);
    tracker.onEvent({ type: "eval", step: 0, losses: { domain: 3.5, general: 4.25 }, perplexities: {} });
    tracker.onEvent({ type: "eval", step: 5, losses: { domain: 2, general: 4.5 }, perplexities: {} });
    expect(tracker.history.map((r) => [r.step, r.forgetting.general])).toEqual([
      [0, 0.25],
      [5, 0.5],
    ]);
  });
});
