import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { expectNoLeak, ready } from "../../src/engine/index.js";
import { createEwc, createL2Sp, fisherDiagonal } from "../../src/forgetting/index.js";
import type { GPT2LMHeadModel } from "../../src/models/index.js";
import { getPeftModel } from "../../src/peft/index.js";
import { train, type StepEvent, type TokenBatch } from "../../src/train/index.js";
import { tinyModel, toBatches, weightsOf, windows } from "./helpers.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

const T = 16;
const general = toBatches(windows(6, T, 11), 2); // 3 batches of general text
const domain = toBatches(windows(8, T, 3, 16), 2);

/** Reference Fisher: per batch, tf.variableGrads straight on the loss, squared and averaged in JS. */
function referenceFisher(model: GPT2LMHeadModel, batches: TokenBatch[]): Map<string, Float64Array> {
  const named = [...model.namedParameters()].filter(([, p]) => p.requiresGrad);
  const out = new Map(named.map(([n, p]) => [n, new Float64Array(p.variable.size)]));
  for (const batch of batches) {
    const ids = tf.tensor2d(batch.inputIds, batch.shape, "int32");
    const targets = tf.tensor2d(batch.targets, batch.shape, "int32");
    const { value, grads } = tf.variableGrads(
      () => model.loss(ids, targets),
      named.map(([, p]) => p.variable),
    );
    for (const [n, p] of named) {
      const g = grads[p.variable.name].dataSync();
      const acc = out.get(n)!;
      for (let i = 0; i < g.length; i++) acc[i] += (g[i] * g[i]) / batches.length;
    }
    tf.dispose([ids, targets, value, ...Object.values(grads)]);
  }
  return out;
}

/** Adds a fixed pseudo-random perturbation to every trainable weight; returns what it added. */
function perturb(model: GPT2LMHeadModel): Map<string, Float64Array> {
  let x = 42;
  const out = new Map<string, Float64Array>();
  for (const [n, p] of model.namedParameters()) {
    if (!p.requiresGrad) continue;
    const w = p.variable.dataSync().slice();
    const d = Float64Array.from(w, () => ((x = (x * 1103515245 + 12345) % 2 ** 31), (x / 2 ** 31 - 0.5) * 0.1));
    const nw = Float32Array.from(w, (v, i) => v + d[i]);
    // The true difference is what float32 stored, not d.
    out.set(
      n,
      Float64Array.from(nw, (v, i) => v - w[i]),
    );
    p.variable.assign(tf.tensor(nw, p.variable.shape));
  }
  return out;
}

const stepLosses = (events: { type: string }[]) => events.filter((e): e is StepEvent => e.type === "step").map((e) => e.loss);

describe("fisherDiagonal / createEwc", () => {
  it("fisherDiagonal equals squared tf.variableGrads gradients averaged over the same batches", () => {
    const model = tinyModel(0);
    const ref = referenceFisher(model, general);
    const fisher = fisherDiagonal(model, general);
    expect([...fisher.keys()]).toEqual([...ref.keys()]);
    for (const [n, f] of fisher) {
      const got = f.dataSync();
      const want = ref.get(n)!;
      const scale = Math.max(...want) || 1;
      let worst = 0;
      for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
      expect(worst / scale, n).toBeLessThan(1e-5);
    }
    tf.dispose([...fisher.values()]);
  });

  it("its penalty equals strength/2 * sum F (theta - theta*)^2 by hand after perturbing the weights, and is 0 at theta*", () => {
    const model = tinyModel(1);
    const ref = referenceFisher(model, general);
    const ewc = createEwc(model, { strength: 3.5, batches: general });
    expect(ewc.regularizer().dataSync()[0]).toBe(0);
    const delta = perturb(model);
    let want = 0;
    for (const [n, d] of delta) {
      const f = ref.get(n)!;
      for (let i = 0; i < d.length; i++) want += f[i] * d[i] * d[i];
    }
    want *= 3.5 / 2;
    const got = ewc.regularizer();
    expect(Math.abs(got.dataSync()[0] - want) / want).toBeLessThan(1e-4);
    got.dispose();
    ewc.dispose();
  });

  it("with strength 0 trains to identical losses and weights as no EWC", async () => {
    const run = async (ewc: boolean) => {
      const model = tinyModel(2);
      const penalty = ewc ? createEwc(model, { strength: 0, batches: general }) : undefined;
      const { events } = await train(model, { data: domain, steps: 3, lr: 1e-2, progress: false, regularizer: penalty?.regularizer });
      penalty?.dispose();
      return { losses: stepLosses(events), weights: weightsOf(model) };
    };
    const plain = await run(false);
    const withEwc = await run(true);
    expect(withEwc.losses).toEqual(plain.losses);
    expect(withEwc.weights).toEqual(plain.weights);
  });

  it("covers only a PEFT model's trainable (adapter) parameters", () => {
    const peft = getPeftModel(tinyModel(3), { r: 2, targetModules: ["c_attn"], fanInFanOut: true });
    const ewc = createEwc(peft, { strength: 1, batches: general.slice(0, 1) });
    const keys = [...ewc.fisher.keys()];
    expect(keys.length).toBeGreaterThan(0);
    expect(keys.every((k) => k.includes("lora_"))).toBe(true);
    ewc.dispose();
  });

  it("frees its Fisher and anchor copies on dispose, and the regularizer leaks nothing", async () => {
    const model = tinyModel(4);
    await expectNoLeak(() => {
      const ewc = createEwc(model, { strength: 1, batches: general });
      const l2 = createL2Sp(model, { strength: 1 });
      for (let i = 0; i < 3; i++) tf.dispose([ewc.regularizer(), l2.regularizer()]);
      ewc.dispose();
      l2.dispose();
    });
  });

  it("names the problem: no batches, a negative strength", () => {
    const model = tinyModel(5);
    expect(() => fisherDiagonal(model, [])).toThrow(/no batches/);
    expect(() => createL2Sp(model, { strength: -1 })).toThrow(/strength must be a finite number >= 0, got -1/);
  });
});

describe("createL2Sp", () => {
  it("its penalty equals strength/2 * sum (theta - theta_0)^2 by hand after perturbing the weights", () => {
    const model = tinyModel(6);
    const l2 = createL2Sp(model, { strength: 0.8 });
    const delta = perturb(model);
    let want = 0;
    for (const d of delta.values()) for (const v of d) want += v * v;
    want *= 0.8 / 2;
    const got = l2.regularizer();
    expect(Math.abs(got.dataSync()[0] - want) / want).toBeLessThan(1e-5);
    got.dispose();
    l2.dispose();
  });

  it("pulls the weights toward theta_0: after the same steps ||theta - theta_0|| is smaller than without it", async () => {
    const distance = async (strength?: number) => {
      const model = tinyModel(7);
      const before = weightsOf(model);
      const l2 = strength === undefined ? undefined : createL2Sp(model, { strength });
      const { events } = await train(model, { data: domain, steps: 6, lr: 1e-2, progress: false, regularizer: l2?.regularizer });
      l2?.dispose();
      let s = 0;
      for (const [n, w] of weightsOf(model)) for (let i = 0; i < w.length; i++) s += (w[i] - before.get(n)![i]) ** 2;
      const reg = events.filter((e): e is StepEvent => e.type === "step").map((e) => e.regularization);
      return { d: Math.sqrt(s), reg };
    };
    const free = await distance();
    const pulled = await distance(50);
    expect(pulled.d).toBeLessThan(free.d);
    expect(pulled.reg[0]).toBe(0); // at theta_0 the penalty is zero
    expect(pulled.reg.slice(1).every((r) => r! > 0)).toBe(true);
  });
});
