import * as tf from "@tensorflow/tfjs";
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { ready } from "../../src/engine/index.js";
import { Parameter } from "../../src/nn/index.js";
import { AdamW, clipGradNorm, GradientAccumulator, type GradMap, type ParamGroupSpec } from "../../src/optim/index.js";

// Reference: torch.optim.AdamW + clip_grad_norm_ (Debian python3-torch), tests/fixtures/make_optim_fixtures.py.
interface Fixture {
  torch: string;
  lr: number;
  weightDecay: number;
  betas: [number, number];
  eps: number;
  maxGradNorm: number;
  paramGroups: ParamGroupSpec[];
  shapes: Record<string, number[]>;
  init: Record<string, number[]>;
  steps: { grads: Record<string, number[]>; lrMultiplier: number; preClipNorm: number; params: Record<string, number[]> }[];
}
const fixture = JSON.parse(readFileSync(new URL("../fixtures/optim/adamw.json", import.meta.url), "utf8")) as Fixture;

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

function makeParams(): Map<string, Parameter> {
  return new Map(Object.entries(fixture.shapes).map(([n, shape]) => [n, new Parameter(tf.tensor(fixture.init[n], shape), true, n)]));
}

describe("AdamW", () => {
  it("matches torch.optim.AdamW for 20 steps to 1e-6, with param groups, weight decay, clipping and a warmup LR", () => {
    const params = makeParams();
    const opt = new AdamW(params, {
      lr: fixture.lr,
      betas: fixture.betas,
      eps: fixture.eps,
      weightDecay: fixture.weightDecay,
      paramGroups: fixture.paramGroups,
    });
    expect(opt.groups.map((g) => [g.name, g.params, g.lrMultiplier, g.weightDecay])).toEqual([
      ["head", ["head.weight", "head.bias"], 0.5, 0.1], // an explicit weightDecay applies to the bias too
      ["default", ["block.attn.weight"], 1, 0.01],
      ["default.no_decay", ["block.attn.bias", "block.ln.weight"], 1, 0],
    ]);
    const before = tf.memory().numTensors;
    let worst = 0;
    let worstNorm = 0;
    fixture.steps.forEach((step, k) => {
      const raw: GradMap = new Map(Object.entries(step.grads).map(([n, g]) => [n, tf.tensor(g, fixture.shapes[n])]));
      const { grads, totalNorm } = clipGradNorm(raw, fixture.maxGradNorm);
      worstNorm = Math.max(worstNorm, Math.abs(totalNorm - step.preClipNorm) / step.preClipNorm);
      opt.step(grads, { lrScale: step.lrMultiplier });
      tf.dispose([...raw.values(), ...grads.values()]);
      for (const [n, p] of params) {
        const got = p.variable.dataSync();
        step.params[n].forEach((want, i) => (worst = Math.max(worst, Math.abs(got[i] - want))));
      }
      if (k === 1) expect(tf.memory().numTensors).toBe(before + 10); // the moments, made at step 1
    });
    expect(tf.memory().numTensors).toBe(before + 10);
    if (process.env.LORA_LAB_REPORT)
      console.log(
        `AdamW vs torch: max |param diff| ${worst.toExponential(2)}, max relative pre-clip norm diff ${worstNorm.toExponential(2)}`,
      );
    expect(worstNorm).toBeLessThan(1e-6);
    expect(worst).toBeLessThan(1e-6);
    opt.dispose();
    expect(tf.memory().numTensors).toBe(before);
    for (const p of params.values()) p.dispose();
  });

  it("puts biases and LayerNorm weights of the default group out of weight decay, as transformers' Trainer", () => {
    const names = [
      "transformer.wte.weight",
      "transformer.h.0.ln_1.weight",
      "transformer.h.0.ln_1.bias",
      "transformer.h.0.attn.c_attn.weight",
      "transformer.h.0.attn.c_attn.bias",
      "transformer.ln_f.weight",
      "encoder.block.0.layer.0.layer_norm.weight",
      "encoder.final_layer_norm.weight",
      "lm_head.weight",
    ];
    const params = new Map(names.map((n) => [n, new Parameter(tf.zeros([2]), true, n)]));
    params.get("lm_head.weight")!.requiresGrad = false;
    const opt = new AdamW(params, { weightDecay: 0.1 });
    expect(Object.fromEntries(opt.groups.map((g) => [g.name, g.params]))).toEqual({
      default: ["transformer.wte.weight", "transformer.h.0.attn.c_attn.weight"],
      "default.no_decay": [
        "transformer.h.0.ln_1.weight",
        "transformer.h.0.ln_1.bias",
        "transformer.h.0.attn.c_attn.bias",
        "transformer.ln_f.weight",
        "encoder.block.0.layer.0.layer_norm.weight",
        "encoder.final_layer_norm.weight",
      ],
    });
    opt.dispose();
    for (const p of params.values()) p.dispose();
  });

  it("names unknown and duplicated parameters, and skips a parameter without a gradient as torch does", () => {
    const params = new Map([
      ["a.weight", new Parameter(tf.zeros([2]), true, "a")],
      ["b.weight", new Parameter(tf.zeros([2]), true, "b")],
    ]);
    expect(() => new AdamW(params, { paramGroups: [{ name: "g", params: ["a.wieght"] }] })).toThrow(
      /group "g" names "a.wieght", which is not a parameter of the model; parameters: a.weight, b.weight/,
    );
    expect(
      () =>
        new AdamW(params, {
          paramGroups: [
            { name: "g", params: ["a.weight"] },
            { name: "h", params: ["a.weight"] },
          ],
        }),
    ).toThrow(/"a.weight" is in both group "g" and group "h"/);
    const opt = new AdamW(params, { lr: 0.1 });
    const g = new Map([["a.weight", tf.ones([2])]]);
    opt.step(g);
    // A first Adam step moves by lr * g / (|g| + eps) (decay of a zero weight is 0); b has no grad.
    for (const v of params.get("a.weight")!.variable.dataSync()) expect(v).toBeCloseTo(-0.1 / (1 + 1e-8), 7);
    expect(Array.from(params.get("b.weight")!.variable.dataSync())).toEqual([0, 0]);
    const typo = new Map([["c.weight", tf.ones([2])]]);
    expect(() => opt.step(typo)).toThrow(/gradients for c.weight, which this optimizer does not update; it updates a.weight, b.weight/);
    tf.dispose([...g.values(), ...typo.values()]);
    opt.dispose();
    for (const p of params.values()) p.dispose();
  });
});

describe("GradientAccumulator", () => {
  it("averages micro-batch gradients and leaks nothing", () => {
    const before = tf.memory().numTensors;
    const acc = new GradientAccumulator();
    for (const v of [1, 2, 6]) {
      const g = new Map([["w", tf.fill([2], v)]]);
      acc.add(g);
      tf.dispose([...g.values()]);
    }
    const mean = acc.mean();
    expect(Array.from(mean.get("w")!.dataSync())).toEqual([3, 3]);
    tf.dispose([...mean.values()]);
    expect(tf.memory().numTensors).toBe(before);
  });
});
