import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { gpt2, GPT2Config, type GPT2LMHeadModel } from "../../src/models/index.js";
import { train, type StepEvent, type TokenBatch } from "../../src/train/index.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

function smallModel(s: number): GPT2LMHeadModel {
  seed(s);
  return gpt2(new GPT2Config({ vocabSize: 64, nPositions: 16, nEmbd: 16, nLayer: 1, nHead: 2, residPdrop: 0, embdPdrop: 0, attnPdrop: 0 }));
}

function randomBatches(n: number, B: number, T: number, s = 1): TokenBatch[] {
  let x = s;
  const next = () => ((x = (x * 1103515245 + 12345) % 2 ** 31), x % 64);
  return Array.from({ length: n }, () => {
    const ids = Int32Array.from({ length: B * (T + 1) }, next);
    const inputIds = new Int32Array(B * T);
    const targets = new Int32Array(B * T);
    for (let b = 0; b < B; b++)
      for (let t = 0; t < T; t++) ((inputIds[b * T + t] = ids[b * (T + 1) + t]), (targets[b * T + t] = ids[b * (T + 1) + t + 1]));
    return { inputIds, targets, shape: [B, T] as [number, number] };
  });
}

const steps = (events: { type: string }[]) => events.filter((e): e is StepEvent => e.type === "step");

describe("train(model, { regularizer })", () => {
  it("adds the penalty's gradient to the loss's: gradNorm equals tf.variableGrads of loss + penalty, loss excludes it", async () => {
    const model = smallModel(0);
    const [batch] = randomBatches(1, 2, 16);
    const wte = model.namedParameters().get("transformer.wte.weight")!.variable;
    const c = 0.37;
    const penalty = () => tf.tidy(() => tf.mul(c, tf.sum(tf.square(wte))) as tf.Scalar);
    // Independent reference: one hand-built objective, differentiated directly.
    const variables = [...model.namedParameters().values()].map((p) => p.variable);
    const ids = tf.tensor2d(batch.inputIds, batch.shape, "int32");
    const targets = tf.tensor2d(batch.targets, batch.shape, "int32");
    const { grads } = tf.variableGrads(() => tf.add(model.loss(ids, targets), penalty()) as tf.Scalar, variables);
    let sq = 0;
    for (const g of Object.values(grads)) for (const v of g.dataSync()) sq += v * v;
    const lossRef = model.loss(ids, targets).dataSync()[0];
    let w2 = 0;
    for (const v of wte.dataSync()) w2 += v * v;
    tf.dispose([ids, targets, ...Object.values(grads)]);

    const { events } = await train(model, { data: [batch], steps: 1, maxGradNorm: 0, regularizer: penalty, progress: false });
    const [step] = steps(events);
    expect(step.gradNorm).toBeCloseTo(Math.sqrt(sq), 4);
    expect(step.loss).toBeCloseTo(lossRef, 5);
    expect(step.regularization).toBeCloseTo(c * w2, 4);
  });

  it("with a zero penalty gives the same losses and weights as no regularizer, and no regularization field without one", async () => {
    const data = randomBatches(3, 2, 16, 5);
    const run = async (withReg: boolean) => {
      const model = smallModel(1);
      const wte = model.namedParameters().get("transformer.wte.weight")!.variable;
      const { events } = await train(model, {
        data,
        steps: 3,
        lr: 1e-2,
        progress: false,
        regularizer: withReg ? () => tf.tidy(() => tf.mul(0, tf.sum(tf.square(wte))) as tf.Scalar) : undefined,
      });
      return { steps: steps(events), weights: [...model.namedParameters().values()].map((p) => Array.from(p.variable.dataSync())) };
    };
    const a = await run(false);
    const b = await run(true);
    expect(b.steps.map((e) => e.loss)).toEqual(a.steps.map((e) => e.loss));
    expect(b.weights).toEqual(a.weights);
    expect(a.steps.every((e) => !("regularization" in e))).toBe(true);
    expect(b.steps.every((e) => e.regularization === 0)).toBe(true);
  });

  it("keeps tf.memory().numTensors flat across steps with a regularizer and gradient accumulation", async () => {
    const model = smallModel(2);
    const wte = model.namedParameters().get("transformer.wte.weight")!.variable;
    const counts: number[] = [];
    const start = tf.memory().numTensors;
    await train(model, {
      data: randomBatches(2, 2, 16, 9),
      steps: 8,
      gradientAccumulationSteps: 2,
      progress: false,
      regularizer: () => tf.tidy(() => tf.mul(1e-3, tf.sum(tf.square(wte))) as tf.Scalar),
      onEvent: (e) => {
        if (e.type === "step" && e.step >= 3) counts.push(tf.memory().numTensors);
      },
    });
    expect(new Set(counts).size).toBe(1);
    expect(tf.memory().numTensors).toBe(start);
  });
});
