import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { gpt2, GPT2Config, type GPT2LMHeadModel } from "../../src/models/index.js";
import { train, TrainingDivergedError, type TokenBatch, type TrainableModel, type TrainOptions } from "../../src/train/index.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

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

/** Every parameter's bits: a NaN or a -0 must match too, so compare the raw words, not the numbers. */
function bits(model: GPT2LMHeadModel): Map<string, Uint32Array> {
  return new Map(
    [...model.namedParameters()].map(([n, p]) => [n, new Uint32Array((p.variable.dataSync() as Float32Array).slice().buffer)]),
  );
}

/** `base` whose loss gets `poison(loss)` added from the `from`-th loss call on (counted over micro-batches). */
function poisoned(base: GPT2LMHeadModel, from: number, poison: () => tf.Scalar): TrainableModel {
  let calls = 0;
  return {
    namedParameters: () => base.namedParameters(),
    train: (m) => base.train(m),
    loss: (ids, targets) => {
      const loss = base.loss(ids, targets);
      if (++calls < from) return loss;
      return tf.tidy(() => tf.add(loss, poison()) as tf.Scalar);
    },
  };
}

/** A term whose value is 0 but whose gradient with respect to `w` is `fill` everywhere. */
function zeroWithGradient(w: tf.Variable, fill: number): tf.Scalar {
  const f = tf.customGrad((x: tf.Tensor) => ({
    value: tf.mul(tf.sum(x), 0) as tf.Scalar,
    gradFunc: (dy: tf.Tensor) => tf.mul(dy, tf.fill(x.shape, fill)),
  }));
  return f(w) as tf.Scalar;
}

/**
 * Trains until the guard throws and returns the error with the weights it left, the weights after
 * the last step that completed (snapshotted from its event) and the step events seen.
 */
async function diverge(base: GPT2LMHeadModel, model: TrainableModel, opts: Partial<TrainOptions>) {
  const start = tf.memory().numTensors;
  let lastGood = bits(base);
  const steps: number[] = [];
  const err = await train(model, {
    data: batches(8),
    steps: 8,
    lr: 1e-2,
    ...opts,
    onEvent: (e) => {
      if (e.type === "step") ((lastGood = bits(base)), steps.push(e.step));
    },
  }).catch((e: unknown) => e);
  expect(tf.memory().numTensors).toBe(start);
  return { err: err as TrainingDivergedError, after: bits(base), lastGood, steps };
}

describe("train() stops on a non-finite loss, gradient or learning rate, before the bad update", () => {
  it("an infinite loss at step 3: names the loss and the step, weights bit-for-bit those after step 2", async () => {
    const base = smallModel(1);
    const r = await diverge(
      base,
      poisoned(base, 3, () => tf.scalar(Infinity)),
      {},
    );
    expect(r.err).toBeInstanceOf(TrainingDivergedError);
    expect(r.err).toMatchObject({ step: 3, lastGoodStep: 2, quantity: "loss", value: Infinity });
    expect(r.err.message).toMatch(/the loss is Infinity at step 3; .*weights are those after step 2/);
    expect(r.steps).toEqual([1, 2]);
    expect(r.after).toEqual(r.lastGood);
    base.dispose();
  });

  it("an infinite gradient in one module only (finite loss): names that module", async () => {
    const base = smallModel(2);
    const w = base.namedParameters().get("transformer.h.1.mlp.c_proj.weight")!.variable;
    const r = await diverge(
      base,
      poisoned(base, 4, () => zeroWithGradient(w, Infinity)),
      {},
    );
    expect(r.err).toBeInstanceOf(TrainingDivergedError);
    expect(r.err).toMatchObject({ step: 4, lastGoodStep: 3, quantity: "gradient", module: "transformer.h.1.mlp.c_proj", value: Infinity });
    expect(r.after).toEqual(r.lastGood);
    base.dispose();
  });

  it("a NaN gradient in one module in one micro-batch of an accumulated step: names the module and the optimizer step", async () => {
    const base = smallModel(3);
    const w = base.namedParameters().get("transformer.h.0.attn.c_attn.bias")!.variable;
    // Loss call 6 is the second micro-batch of optimizer step 3.
    const r = await diverge(
      base,
      poisoned(base, 6, () => zeroWithGradient(w, NaN)),
      { gradientAccumulationSteps: 2, data: batches(16) },
    );
    expect(r.err).toMatchObject({ step: 3, lastGoodStep: 2, quantity: "gradient", module: "transformer.h.0.attn.c_attn" });
    expect(r.err.value).toBeNaN();
    expect(r.after).toEqual(r.lastGood);
    base.dispose();
  });

  it("a NaN learning rate from the schedule at step 3: names the learning rate, its group and the step", async () => {
    const base = smallModel(4);
    const r = await diverge(base, base, { scheduler: (s) => (s === 2 ? NaN : 1) });
    expect(r.err).toBeInstanceOf(TrainingDivergedError);
    expect(r.err).toMatchObject({ step: 3, lastGoodStep: 2, quantity: "lr", group: "default" });
    expect(r.err.value).toBeNaN();
    expect(r.err.message).toMatch(/the learning rate of param group "default" is NaN at step 3; .*weights are those after step 2/);
    expect(r.steps).toEqual([1, 2]);
    expect(r.after).toEqual(r.lastGood);
    base.dispose();
  });

  it("an infinite peak learning rate with the paged optimizer: stops at step 1 with the weights untouched", async () => {
    const base = smallModel(5);
    const r = await diverge(base, base, { lr: Infinity, optimizer: "paged_adamw" });
    expect(r.err).toMatchObject({ step: 1, lastGoodStep: 0, quantity: "lr", value: Infinity });
    expect(r.steps).toEqual([]);
    expect(r.after).toEqual(r.lastGood);
    base.dispose();
  });
});
