import * as tf from "@tensorflow/tfjs";
import { mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { gpt2, GPT2Config, type GPT2LMHeadModel } from "../../src/models/index.js";
import { readSafetensors } from "../../src/io/index.js";
import { getScheduler } from "../../src/optim/index.js";
import { train, TrainingDivergedError, type StepEvent, type TokenBatch, type TrainableModel } from "../../src/train/index.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

const tmp: string[] = [];
afterAll(async () => {
  for (const d of tmp) await rm(d, { recursive: true, force: true });
});

/** A small GPT-2 without dropout, so a step is a deterministic function of weights and batch. */
function smallModel(s: number, nEmbd = 16, nLayer = 2): GPT2LMHeadModel {
  seed(s);
  return gpt2(new GPT2Config({ vocabSize: 64, nPositions: 16, nEmbd, nLayer, nHead: 2, residPdrop: 0, embdPdrop: 0, attnPdrop: 0 }));
}

/** Random token batches [B, T] over a 64-token vocabulary, from a fixed LCG. */
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

function snapshot(model: GPT2LMHeadModel): Map<string, Float32Array> {
  return new Map([...model.namedParameters()].map(([n, p]) => [n, p.variable.dataSync().slice() as Float32Array]));
}

const moduleOf = (name: string) => name.split(".").slice(0, -1).join(".");

describe("train(model, opts) step events", () => {
  it("reports per-module gradient norms equal to norms of tf.variableGrads, and update ratios of the actual change", async () => {
    const model = smallModel(0);
    const [batch] = randomBatches(1, 2, 16);
    // Independent reference: gradients straight from tf.variableGrads at the initial weights.
    const named = [...model.namedParameters()];
    const ids = tf.tensor2d(batch.inputIds, batch.shape, "int32");
    const targets = tf.tensor2d(batch.targets, batch.shape, "int32");
    const { value, grads } = tf.variableGrads(
      () => model.loss(ids, targets),
      named.map(([, p]) => p.variable),
    );
    const want: Record<string, number> = {};
    for (const [n, p] of named) {
      const g = grads[p.variable.name].dataSync();
      let s = 0;
      for (const v of g) s += v * v;
      want[moduleOf(n)] = (want[moduleOf(n)] ?? 0) + s;
    }
    for (const m of Object.keys(want)) want[m] = Math.sqrt(want[m]);
    const wantLoss = value.dataSync()[0];
    tf.dispose([ids, targets, value, ...Object.values(grads)]);

    const before = snapshot(model);
    const result = await train(model, { data: [batch], steps: 1, lr: 1e-2, maxGradNorm: 0.5 });
    const e = result.events[0] as StepEvent;
    expect(e.loss).toBeCloseTo(wantLoss, 6);
    expect(Object.keys(e.gradNorms)).toEqual(Object.keys(want));
    expect(Object.keys(want)).toContain("transformer.h.0.attn.c_attn");
    for (const m of Object.keys(want)) expect(Math.abs(e.gradNorms[m] - want[m]) / want[m]).toBeLessThan(1e-5);
    const total = Math.sqrt(Object.values(want).reduce((a, v) => a + v * v, 0));
    expect(Math.abs(e.gradNorm - total) / total).toBeLessThan(1e-5);

    const after = snapshot(model);
    const num: Record<string, number> = {};
    const den: Record<string, number> = {};
    for (const [n, w0] of before) {
      const w1 = after.get(n)!;
      for (let i = 0; i < w0.length; i++) {
        num[moduleOf(n)] = (num[moduleOf(n)] ?? 0) + (w1[i] - w0[i]) ** 2;
        den[moduleOf(n)] = (den[moduleOf(n)] ?? 0) + w0[i] ** 2;
      }
    }
    for (const m of Object.keys(num)) {
      const ratio = den[m] > 0 ? Math.sqrt(num[m] / den[m]) : 1;
      expect(Math.abs(e.updateRatios[m] - ratio) / ratio).toBeLessThan(1e-3);
    }
    expect(JSON.parse(JSON.stringify(e))).toEqual(e); // plain, serialisable
    model.dispose();
  });

  it("leaves tf.memory().numTensors unchanged over 300 steps after warm-up, and frees the optimizer at the end", async () => {
    const model = smallModel(1, 8, 1);
    const start = tf.memory().numTensors;
    const counts: number[] = [];
    const batches = randomBatches(7, 2, 8);
    const result = await train(model, {
      data: (function* () {
        for (let i = 0; ; i++) yield batches[i % batches.length];
      })(),
      steps: 300,
      lr: 3e-3,
      scheduler: "cosine",
      numWarmupSteps: 10,
      weightDecay: 0.01,
      maxGradNorm: 0.1, // clips most steps: the scaled-gradient path is exercised too
      evalEvery: 100,
      evalSets: { heldOut: randomBatches(1, 2, 8, 9) },
      onEvent: (e) => {
        if (e.type === "step" && e.step >= 5) counts.push(tf.memory().numTensors);
      },
    });
    expect(result.steps).toBe(300);
    expect(new Set(counts).size).toBe(1);
    expect(tf.memory().numTensors).toBe(start);
    model.dispose();
  });

  it("uses peak LR x the transformers schedule at step - 1, and an lrMultiplier of 0 freezes a group", async () => {
    const model = smallModel(2);
    const frozen = ["transformer.h.1.mlp.c_fc.weight", "transformer.h.1.mlp.c_fc.bias"];
    const before = snapshot(model);
    const result = await train(model, {
      data: randomBatches(6, 2, 8),
      steps: 6,
      lr: 1e-2,
      scheduler: "linear",
      warmupRatio: 0.34, // ceil(6 * 0.34) = 3 warmup steps
      paramGroups: [{ name: "slow", params: frozen, lrMultiplier: 0 }],
    });
    const lrs = result.events.map((e) => (e as StepEvent).lr);
    const ref = getScheduler("linear", { numWarmupSteps: 3, numTrainingSteps: 6 });
    expect(lrs).toEqual([0, 1, 2, 3, 4, 5].map((s) => 1e-2 * ref(s)));
    expect(lrs.slice(0, 4).map((v) => +v.toFixed(12))).toEqual([0, 1e-2 / 3, 2e-2 / 3, 1e-2].map((v) => +v.toFixed(12)));
    const after = snapshot(model);
    for (const n of frozen) expect(after.get(n)).toEqual(before.get(n));
    expect(after.get("transformer.h.1.attn.c_attn.weight")).not.toEqual(before.get("transformer.h.1.attn.c_attn.weight"));
    model.dispose();
  });

  it("with gradientAccumulationSteps 2 makes the same update as one step on both batches at once", async () => {
    const [a, b] = randomBatches(2, 2, 8, 5);
    const both: TokenBatch = {
      inputIds: Int32Array.from([...a.inputIds, ...b.inputIds]),
      targets: Int32Array.from([...a.targets, ...b.targets]),
      shape: [4, 8],
    };
    const m1 = smallModel(3);
    const m2 = smallModel(3);
    const r1 = await train(m1, { data: [a, b], steps: 1, lr: 1e-2, gradientAccumulationSteps: 2, weightDecay: 0.1 });
    const r2 = await train(m2, { data: [both], steps: 1, lr: 1e-2, weightDecay: 0.1 });
    expect((r1.events[0] as StepEvent).loss).toBeCloseTo((r2.events[0] as StepEvent).loss, 5);
    expect((r1.events[0] as StepEvent).gradNorm).toBeCloseTo((r2.events[0] as StepEvent).gradNorm, 5);
    const w1 = snapshot(m1);
    let worst = 0;
    for (const [n, w] of snapshot(m2)) w.forEach((v, i) => (worst = Math.max(worst, Math.abs(v - w1.get(n)![i]))));
    expect(worst).toBeLessThan(1e-5);
    m1.dispose();
    m2.dispose();
  });
});

describe("train(model, opts) stopping", () => {
  it("stops within one step when the signal aborts from a timer, and runs no step on an aborted signal", async () => {
    const model = smallModel(4, 8, 1);
    const controller = new AbortController();
    let stepAtAbort = -1;
    const result = await train(model, {
      data: (function* () {
        const bs = randomBatches(4, 2, 8);
        for (let i = 0; ; i++) yield bs[i % 4];
      })(),
      steps: 1000,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === "step" && e.step === 5) setTimeout(() => ((stepAtAbort = e.step), controller.abort()), 0);
      },
    });
    expect(result.aborted).toBe(true);
    expect(result.steps).toBeGreaterThanOrEqual(stepAtAbort);
    expect(result.steps).toBeLessThanOrEqual(stepAtAbort + 1);
    const again = await train(model, { data: randomBatches(2, 2, 8), steps: 2, signal: controller.signal });
    expect(again).toMatchObject({ steps: 0, aborted: true });
    model.dispose();
  });

  it("throws TrainingDivergedError naming the step and module of a NaN gradient, keeping the last good weights", async () => {
    const base = smallModel(5);
    const target = base.namedParameters().get("transformer.h.0.attn.c_proj.weight")!.variable;
    let calls = 0;
    // From the 4th step on, add 0 * sum(sqrt(w - w)) to the loss: the loss stays finite, but the
    // gradient of c_proj.weight is 0 * (1 / 2sqrt(0)) = NaN.
    const model: TrainableModel = {
      namedParameters: () => base.namedParameters(),
      train: (m) => base.train(m),
      loss: (ids, targets) => {
        calls++;
        const loss = base.loss(ids, targets);
        if (calls < 4) return loss;
        return tf.tidy(() => tf.add(loss, tf.mul(0, tf.sum(tf.sqrt(tf.sub(target, target))))) as tf.Scalar);
      },
    };
    const start = tf.memory().numTensors;
    let good = new Map<string, Float32Array>();
    const err = await train(model, {
      data: randomBatches(8, 2, 8),
      steps: 8,
      lr: 1e-2,
      onEvent: (e) => {
        if (e.type === "step") good = snapshot(base);
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainingDivergedError);
    const d = err as TrainingDivergedError;
    expect(d).toMatchObject({ step: 4, lastGoodStep: 3, quantity: "gradient", module: "transformer.h.0.attn.c_proj" });
    expect(d.message).toMatch(
      /the gradient of module "transformer.h.0.attn.c_proj" has norm NaN at step 4; .*weights are those after step 3/,
    );
    expect(snapshot(base)).toEqual(good);
    expect(tf.memory().numTensors).toBe(start);
    base.dispose();
  });

  it("throws on a NaN loss with the step, before updating", async () => {
    const model = smallModel(6, 8, 1);
    const err = await train(model, {
      data: randomBatches(4, 2, 8),
      steps: 4,
      onEvent: (e) => {
        // Poison a weight after step 2: the loss of step 3 is NaN.
        if (e.type === "step" && e.step === 2)
          model
            .namedParameters()
            .get("transformer.h.0.mlp.c_fc.weight")!
            .assign(tf.fill([8, 32], NaN));
      },
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(TrainingDivergedError);
    expect((err as Error).message).toMatch(/^train: the loss is NaN at step 3; training stopped and the weights are those after step 2/);
    model.dispose();
  });
});

describe("train(model, opts) evaluation, checkpoints and data", () => {
  it("emits eval events with loss and perplexity per set, and writes whole checkpoints every N steps", async () => {
    const dir = await mkdtemp(join(tmpdir(), "lora-lab-ckpt-"));
    tmp.push(dir);
    const model = smallModel(7, 8, 1);
    const windows = Array.from({ length: 12 }, (_, i) => Int32Array.from({ length: 9 }, (_, t) => (i * 7 + t * 3) % 64));
    const result = await train(model, {
      data: windows,
      batchSize: 2,
      steps: 5,
      evalEvery: 2,
      evalSets: { a: randomBatches(1, 2, 8, 3), b: randomBatches(1, 2, 8, 4) },
      checkpointEvery: 2,
      outputDir: dir,
    });
    const evals = result.events.filter((e) => e.type === "eval");
    expect(evals.map((e) => e.step)).toEqual([2, 4, 5]);
    for (const e of evals)
      if (e.type === "eval") for (const k of ["a", "b"]) expect(e.perplexities[k]).toBeCloseTo(Math.exp(e.losses[k]), 10);
    expect(result.events.filter((e) => e.type === "checkpoint").map((e) => e.step)).toEqual([2, 4, 5]);
    expect((await readdir(dir)).sort()).toEqual(["checkpoint-2", "checkpoint-4", "checkpoint-5"]);
    const saved = await readSafetensors(join(dir, "checkpoint-5", "model.safetensors"));
    const live = snapshot(model);
    expect(Object.keys(saved.tensors).sort()).toEqual([...live.keys()].sort());
    expect(Array.from(saved.tensors["transformer.h.0.attn.c_attn.weight"].data as Float32Array)).toEqual(
      Array.from(live.get("transformer.h.0.attn.c_attn.weight")!),
    );
    const optim = await readSafetensors(join(dir, "checkpoint-5", "optimizer.safetensors"));
    expect(Object.keys(optim.tensors)).toContain("transformer.h.0.attn.c_attn.weight.exp_avg_sq");
    model.dispose();
  });

  it("passes over an array of batches again until `steps`, and stops early when an iterator runs out", async () => {
    const model = smallModel(9, 8, 1);
    const two = randomBatches(2, 2, 8);
    expect((await train(model, { data: two, steps: 5 })).steps).toBe(5);
    const warn = vi.spyOn(console, "warn").mockImplementation(() => {});
    expect(await train(model, { data: two[Symbol.iterator](), steps: 5 })).toMatchObject({ steps: 2, dataExhausted: true });
    expect(warn.mock.calls.map((c) => String(c[0]))).toEqual([
      expect.stringMatching(/^train: the data ran out after 2 of 5 steps \(2 batches read\)/),
    ]);
    warn.mockRestore();
    model.dispose();
  });

  it("names wrong options", async () => {
    const model = smallModel(8, 8, 1);
    await expect(train(model, { data: [], steps: 0 })).rejects.toThrow(/steps must be a positive integer, got 0/);
    await expect(train(model, { data: [], steps: 1, checkpointEvery: 2 })).rejects.toThrow(/checkpointEvery needs outputDir/);
    await expect(train(model, { data: [new Int32Array(9)], steps: 1 })).rejects.toThrow(/batchSize is required/);
    await expect(train(model, { data: [], steps: 1, scheduler: "cosine_with_min_lr" })).rejects.toThrow(/minLr/);
    model.requiresGrad(false);
    await expect(train(model, { data: randomBatches(1, 2, 8), steps: 1 })).rejects.toThrow(/no trainable parameters/);
    model.dispose();
  });
});
