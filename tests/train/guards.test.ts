import * as tf from "@tensorflow/tfjs";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { expectNoLeak, ready, seed } from "../../src/engine/index.js";
import { gpt2, GPT2Config, type GPT2LMHeadModel } from "../../src/models/index.js";
import { DivergenceGuard, LossDivergedError } from "../../src/train/divergence_guard.js";
import {
  train,
  TrainingDivergedError,
  type StepEvent,
  type TokenBatch,
  type TrainableModel,
  type TrainOptions,
} from "../../src/train/index.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
});
afterEach(() => vi.restoreAllMocks());

function smallModel(s: number): GPT2LMHeadModel {
  seed(s);
  return gpt2(new GPT2Config({ vocabSize: 32, nPositions: 8, nEmbd: 8, nLayer: 2, nHead: 2, residPdrop: 0, embdPdrop: 0, attnPdrop: 0 }));
}

function batches(n: number): TokenBatch[] {
  return Array.from({ length: n }, (_, k) => ({
    inputIds: Int32Array.from({ length: 16 }, (_, i) => (i * 7 + k) % 32),
    targets: Int32Array.from({ length: 16 }, (_, i) => (i * 7 + k + 1) % 32),
    shape: [2, 8] as [number, number],
  }));
}

function bits(model: GPT2LMHeadModel): Map<string, Uint32Array> {
  return new Map(
    [...model.namedParameters()].map(([n, p]) => [n, new Uint32Array((p.variable.dataSync() as Float32Array).slice().buffer)]),
  );
}

/** `base` whose loss gets `extra` nats added from optimizer step `from` on (one loss call a step). */
function shifted(base: GPT2LMHeadModel, from: number, extra: number): TrainableModel {
  let calls = 0;
  return {
    namedParameters: () => base.namedParameters(),
    train: (m) => base.train(m),
    loss: (ids, targets) => {
      const loss = base.loss(ids, targets);
      if (++calls < from) return loss;
      return tf.tidy(() => tf.add(loss, extra) as tf.Scalar);
    },
  };
}

async function runToError(base: GPT2LMHeadModel, model: TrainableModel, opts: Partial<TrainOptions>) {
  let lastGood = bits(base);
  const losses: number[] = [];
  const err = await expectNoLeak(() =>
    train(model, {
      data: batches(8),
      steps: 10,
      lr: 1e-2,
      ...opts,
      onEvent: (e) => {
        if (e.type === "step") ((lastGood = bits(base)), losses.push(e.loss));
      },
    }).catch((e: unknown) => e),
  );
  return { err: err as LossDivergedError, after: bits(base), lastGood, losses };
}

describe("train() with data that is empty or runs out", () => {
  it("throws for an empty array, an empty iterator and an empty iterable, naming the problem", async () => {
    const model = smallModel(1);
    await expect(train(model, { data: [], steps: 3 })).rejects.toThrow("train: data is an empty array: there is nothing to train on");
    const empty = "train: the data gave no batches: there is nothing to train on";
    await expect(train(model, { data: [][Symbol.iterator](), steps: 3 })).rejects.toThrow(empty);
    await expect(train(model, { data: new Set<TokenBatch>(), steps: 3 })).rejects.toThrow(empty);
    // Fewer batches than one accumulated step is no step at all.
    await expect(train(model, { data: batches(2)[Symbol.iterator](), steps: 3, gradientAccumulationSteps: 3 })).rejects.toThrow(
      "train: the data gave 2 batches, fewer than the 3 micro-batches of one optimizer step (gradientAccumulationSteps)",
    );
    model.dispose();
  });

  it("warns with the counts when an iterator runs out before `steps`, and keeps the steps done", async () => {
    const model = smallModel(2);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    const result = await train(model, { data: batches(5)[Symbol.iterator](), steps: 4, gradientAccumulationSteps: 2 });
    expect(result).toMatchObject({ steps: 2, dataExhausted: true, aborted: false });
    expect(warn).toHaveBeenCalledTimes(1);
    expect(warn.mock.calls[0][0]).toBe(
      "train: the data ran out after 2 of 4 steps (5 batches read; the last 1 did not fill a step of 2 micro-batches and were not used); " +
        "training stopped early. An iterator is read once: pass an array or another iterable to go over the data again, or lower steps.",
    );
    model.dispose();
  });

  it("does not warn when the data lasts, and passes over an array again", async () => {
    const model = smallModel(3);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    expect(await train(model, { data: batches(2), steps: 3 })).toMatchObject({ steps: 3, dataExhausted: false });
    expect(await train(model, { data: batches(3)[Symbol.iterator](), steps: 3 })).toMatchObject({ steps: 3, dataExhausted: false });
    expect(warn).not.toHaveBeenCalled();
    model.dispose();
  });
});

describe("DivergenceGuard: loss above its running minimum + marginNats on `patience` consecutive steps", () => {
  const feed = (losses: number[], opts = { marginNats: 5, patience: 3 }) => {
    const guard = new DivergenceGuard(opts);
    for (const [i, loss] of losses.entries()) {
      try {
        guard.check(i + 1, loss);
      } catch (e) {
        return e as LossDivergedError;
      }
    }
    return undefined;
  };

  it("stops on the third consecutive step above, naming it, the first of the run and the minimum", () => {
    const err = feed([5.5, 4, 3, 8.1, 9, 1e14]);
    expect(err).toBeInstanceOf(LossDivergedError);
    expect(err).toBeInstanceOf(TrainingDivergedError);
    expect(err).toMatchObject({ step: 6, firstStep: 4, minLoss: 3, minStep: 3, value: 1e14, lastGoodStep: 5, quantity: "loss" });
    expect(err!.message).toBe(
      "train: the loss diverged: 1.000e+14 at step 6, more than 5 nats above its lowest value 3.000 (step 3) on steps 4-6; " +
        "training stopped before step 6's update, so the weights are those after step 5. Lower the learning rate, add warmup or clipping; " +
        "divergence: { marginNats, patience } tunes this check and divergence: false turns it off.",
    );
  });

  it("lets a spike, a run broken by one step back under, and a loss exactly at the margin pass", () => {
    expect(feed([5, 4, 12, 4, 12, 12, 3.5, 12, 12])).toBeUndefined();
    expect(feed([5, 3, 8, 8, 8, 8])).toBeUndefined(); // 8 = 3 + 5 is not above
    expect(feed([5, 3, 8.01, 8.01, 8.01])).toMatchObject({ step: 5, firstStep: 3 });
  });

  it("honours marginNats and patience", () => {
    expect(feed([5, 4, 6.5], { marginNats: 2, patience: 1 })).toMatchObject({ step: 3, firstStep: 3, marginNats: 2 });
    expect(feed([5, 4, 20, 20, 20, 20], { marginNats: 5, patience: 5 })).toBeUndefined();
  });
});

describe("train() stops a diverging loss", () => {
  it("a loss 10 nats up from step 3 on: stops at step 5 before its update, weights bit-for-bit those after step 4", async () => {
    const base = smallModel(4);
    const r = await runToError(base, shifted(base, 3, 10), {});
    expect(r.err).toBeInstanceOf(LossDivergedError);
    expect(r.err).toMatchObject({ step: 5, firstStep: 3, minStep: 2, lastGoodStep: 4 });
    expect(r.err.message).toMatch(
      /^train: the loss diverged: .* at step 5, more than 5 nats above its lowest value .* \(step 2\) on steps 3-5;/,
    );
    expect(r.losses).toHaveLength(4);
    expect(r.after).toEqual(r.lastGood);
    base.dispose();
  });

  it("lr 1e6 is stopped with the step named, instead of running on to a huge loss", async () => {
    const base = smallModel(5);
    const r = await runToError(base, base, { lr: 1e6, steps: 20 });
    // Step 1's loss is the initial model's (~ln 32); the first huge update sends it past 1e12, still finite.
    expect(r.losses[0]).toBeLessThan(4);
    expect(r.losses.slice(1).every((l) => Number.isFinite(l) && l > 1e9)).toBe(true);
    expect(r.err).toBeInstanceOf(LossDivergedError);
    expect(r.err).toMatchObject({ step: 4, firstStep: 2, minStep: 1, minLoss: r.losses[0] });
    expect(r.err.message).toMatch(/^train: the loss diverged: .*e\+1\d at step 4, /);
    expect(r.after).toEqual(r.lastGood);
    base.dispose();
  });

  it("divergence: false lets the same run go on; divergence options are checked", async () => {
    const base = smallModel(4);
    const result = await train(shifted(base, 3, 10), { data: batches(8), steps: 6, lr: 1e-2, divergence: false });
    expect(result.steps).toBe(6);
    await expect(train(base, { data: batches(2), steps: 1, divergence: { marginNats: 0 } })).rejects.toThrow(
      "train: divergence.marginNats must be > 0 (nats), got 0",
    );
    await expect(train(base, { data: batches(2), steps: 1, divergence: { patience: 1.5 } })).rejects.toThrow(
      "train: divergence.patience must be a positive integer (steps), got 1.5",
    );
    base.dispose();
  });

  it("a normal run (lr 1e-2, warmup, 40 steps) is not stopped and its loss falls", async () => {
    const base = smallModel(6);
    const result = await train(base, { data: batches(8), steps: 40, lr: 1e-2, numWarmupSteps: 5 });
    const losses = result.events.filter((e): e is StepEvent => e.type === "step").map((e) => e.loss);
    expect(result.steps).toBe(40);
    expect(losses[39]).toBeLessThan(losses[0] - 0.5);
    base.dispose();
  });
});
