import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { expectNoLeak, ready } from "../../src/engine/index.js";
import { measureBaseline, retentionRecord, trackRetention } from "../../src/forgetting/index.js";
import { getPeftModel } from "../../src/peft/index.js";
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
    expect(tracker.history.map((r) => r.step)).toEqual([3, 6]);
    const last = tracker.history[1];
    const generalNow = await evaluateLoss(model, sets.general);
    expect(last.losses.general).toBe(generalNow);
    expect(last.forgetting.general).toBeCloseTo(generalNow - baseline.general, 12);
    expect(last.backwardTransfer).toBeCloseTo(baseline.general - generalNow, 12);
    expect(Object.keys(last.forgetting)).toEqual(["general"]);
    expect(last.perplexities).toEqual(evals[1].perplexities);
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
    expect(tracker.history).toHaveLength(2);
    for (const r of tracker.history) {
      expect(r.adapterDisabledLosses).toEqual(baseLosses);
      expect(r.losses.domain).not.toBe(baseLosses.domain);
    }
  });
});
