import * as tf from "@tensorflow/tfjs";
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { ready } from "../../src/engine/index.js";
import { Parameter } from "../../src/nn/index.js";
import { AdamW, AdamW8bit, createAdamW, PagedAdamW, type GradMap } from "../../src/optim/index.js";
import {
  type Blockwise8bit,
  dequantizeOptimState,
  optimDynamicMap,
  quantizeOptimState,
  SIGNED_DYNAMIC_MAP,
  UNSIGNED_DYNAMIC_MAP,
} from "../../src/optim/adamw8bit_state.js";

// Reference: tests/fixtures/make_optim8bit_fixtures.py, bitsandbytes' create_dynamic_map and its 8-bit
// blockwise Adam kernel written out in numpy float32 from bitsandbytes' source.
interface AdamStep {
  expAvgCodes: number[];
  expAvgAbsmax: number[];
  expAvgSqCodes: number[];
  expAvgSqAbsmax: number[];
  param: number[];
}
interface Fixture {
  signed: number[];
  unsigned: number[];
  x: number[];
  xCodes: number[];
  xAbsmax: number[];
  xDequant: number[];
  v: number[];
  vCodes: number[];
  vAbsmax: number[];
  adam: {
    hyper: { lr: number; betas: [number, number]; eps: number; weightDecay: number };
    shape: [number, number];
    param0: number[];
    grads: number[][];
    steps: AdamStep[];
    probes: Record<"tinyNegative" | "tinyPositive" | "zero", number[]>;
  };
}
const fixture = JSON.parse(readFileSync(new URL("../fixtures/optim/adamw8bit.json", import.meta.url), "utf8")) as Fixture;

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

/** Largest |a - b| / |b| (0 where both are 0). */
function maxRel(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) m = Math.max(m, Math.abs(a[i] - b[i]) / Math.abs(b[i]));
  return m;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

/** Indices where two code arrays differ. */
function codeMismatches(got: ArrayLike<number>, want: number[]): number[] {
  expect(got.length).toBe(want.length);
  return want.flatMap((c, i) => (got[i] === c ? [] : [i]));
}

describe("bitsandbytes' 8-bit state format", () => {
  // torch's vectorised linspace may fuse multiply-adds, so values can differ in the last float32 bit.
  it("optimDynamicMap(signed / unsigned) equals the reference maps to 1 float32 ulp", () => {
    for (const [signed, ref] of [
      [true, fixture.signed],
      [false, fixture.unsigned],
    ] as const) {
      const map = optimDynamicMap(signed);
      expect(map.length).toBe(256);
      ref.forEach((want, i) => expect(Math.abs(map[i] - want)).toBeLessThanOrEqual(Math.abs(want) * 2 ** -22));
    }
    expect(SIGNED_DYNAMIC_MAP[0]).toBeCloseTo(-0.99296875, 7);
    expect(UNSIGNED_DYNAMIC_MAP[255]).toBe(1);
  });

  it("quantizeOptimState gives the reference codes and absmax with blocksize 256, and dequantizes to code * absmax", () => {
    // The reference maps themselves, so the codes test the quantizer alone.
    const signed = Float32Array.from(fixture.signed);
    const unsigned = Float32Array.from(fixture.unsigned);
    const x = quantizeOptimState(Float32Array.from(fixture.x), signed);
    expect([...x.codes]).toEqual(fixture.xCodes);
    expect([...x.absmax]).toEqual(fixture.xAbsmax.map(Math.fround));
    const back = dequantizeOptimState(x);
    fixture.xDequant.forEach((want, i) => expect(Math.abs(back[i] - want)).toBeLessThanOrEqual(Math.abs(want) * 2 ** -23));
    const v = quantizeOptimState(Float32Array.from(fixture.v), unsigned);
    expect([...v.codes]).toEqual(fixture.vCodes);
    expect([...v.absmax]).toEqual(fixture.vAbsmax.map(Math.fround));
  });
});

describe("AdamW8bit step by step against bitsandbytes' 8-bit blockwise Adam kernel", () => {
  const { hyper, shape, param0, grads, steps, probes } = fixture.adam;
  /** Five steps of the fixture's gradients on its 4100-element parameter; the stored state and the parameter after each. */
  function runSteps(): { state: { m: Blockwise8bit; v: Blockwise8bit; step: number }; param: Float32Array }[] {
    const value = tf.tensor(param0, shape);
    const p = new Parameter(value, true, "layer.weight");
    value.dispose();
    const opt = new AdamW8bit(new Map([["layer.weight", p]]), hyper);
    const out = grads.map((g) => {
      const grad = tf.tensor(g, shape);
      opt.step(new Map([["layer.weight", grad]]));
      grad.dispose();
      const s = opt.hostState("layer.weight")!;
      // copies: the optimizer reuses its arrays
      const copy = (q: Blockwise8bit | Float32Array) => {
        if (q instanceof Float32Array) throw new Error("expected 8-bit state for a 4100-element parameter");
        return { ...q, codes: q.codes.slice(), absmax: q.absmax.slice() };
      };
      return { state: { m: copy(s.m), v: copy(s.v), step: s.step }, param: p.variable.dataSync() as Float32Array };
    });
    opt.dispose();
    p.variable.dispose();
    return out;
  }

  it("holds the kernel's codes (exp_avg on the signed map, exp_avg_sq on the unsigned) and absmax after each of 5 steps", () => {
    const before = tf.memory().numTensors;
    const got = runSteps();
    expect(tf.memory().numTensors).toBe(before);
    got.forEach(({ state, param }, k) => {
      const want = steps[k];
      expect(state.step).toBe(k + 1);
      expect(state.m.code).toBe(SIGNED_DYNAMIC_MAP);
      expect(state.v.code).toBe(UNSIGNED_DYNAMIC_MAP);
      expect(state.m.absmax.length).toBe(17); // ceil(4100 / 256)
      expect({ step: k + 1, expAvg: codeMismatches(state.m.codes, want.expAvgCodes) }).toEqual({ step: k + 1, expAvg: [] });
      expect({ step: k + 1, expAvgSq: codeMismatches(state.v.codes, want.expAvgSqCodes) }).toEqual({ step: k + 1, expAvgSq: [] });
      // bitsandbytes passes betas as float32: its 1 - beta2 is 0.99998713e-3, lora-lab's (torch's) 1e-3, 1.3e-5 apart.
      expect(maxRel(state.m.absmax, want.expAvgAbsmax)).toBeLessThan(1e-6);
      expect(maxRel(state.v.absmax, want.expAvgSqAbsmax)).toBeLessThan(2e-5);
      // torch's AdamW decays before the step, bitsandbytes after it: lr * wd * |update| (1e-6) apart per
      // step, against parameters that move by lr (1e-2) per step.
      expect(maxAbsDiff(param, want.param)).toBeLessThan(1e-5 * (k + 1));
    });
  });

  it("keeps a tiny negative exp_avg on a negative code, as the kernel's sign rule, and a tiny positive or zero one at 0", () => {
    const got = runSteps();
    for (const { state } of got) {
      for (const i of probes.tinyNegative) expect(SIGNED_DYNAMIC_MAP[state.m.codes[i]]).toBeLessThan(0);
      for (const i of [...probes.tinyPositive, ...probes.zero]) expect(SIGNED_DYNAMIC_MAP[state.m.codes[i]]).toBe(0);
    }
  });
});

/** A least-squares problem, ||X W + b - Y||^2 / N with more rows than inputs (the loss has a floor above 0): W [64, 96] (8-bit states), b [96] (float32 states). */
function problem() {
  const X = tf.randomNormal([256, 64], 0, 1, "float32", 1);
  const Y = tf.randomNormal([256, 96], 0, 1, "float32", 2);
  const param = (value: tf.Tensor, name: string) => {
    const p = new Parameter(value, true, name);
    value.dispose(); // the variable keeps the data; the handle is ours
    return [name, p] as const;
  };
  const params = () =>
    new Map([param(tf.randomNormal([64, 96], 0, 0.1, "float32", 3), "layer.weight"), param(tf.zeros([96]), "layer.bias")]);
  const loss = (p: Map<string, Parameter>) =>
    tf.mean(tf.square(tf.sub(tf.add(tf.matMul(X, p.get("layer.weight")!.variable), p.get("layer.bias")!.variable), Y))) as tf.Scalar;
  return { X, Y, params, loss };
}

function run(make: (p: Map<string, Parameter>) => AdamW | PagedAdamW, steps = 100): { losses: number[]; weights: Float32Array } {
  const { X, Y, params, loss } = problem();
  const p = params();
  const opt = make(p);
  const vars = [...p.values()].map((q) => q.variable);
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const { value, grads } = tf.variableGrads(() => loss(p), vars);
    const byName: GradMap = new Map([...p.keys()].map((n) => [n, grads[p.get(n)!.variable.name]]));
    losses.push(value.dataSync()[0]);
    opt.step(byName);
    tf.dispose([value, ...Object.values(grads)]);
  }
  const weights = p.get("layer.weight")!.variable.dataSync() as Float32Array;
  opt.dispose();
  tf.dispose([X, Y, ...vars]);
  return { losses, weights };
}

describe("8-bit and paged AdamW follow float AdamW's trajectory over 100 steps", () => {
  const opts = { lr: 1e-2, weightDecay: 0.01 };
  it("paged_adamw (32-bit states in JS memory) matches AdamW to 1e-6; adamw8bit and paged_adamw8bit stay within 1% in loss", () => {
    const before = tf.memory().numTensors;
    const float = run((p) => new AdamW(p, opts));
    const paged32 = run((p) => createAdamW("paged_adamw", p, { ...opts, budgetBytes: 500_000 }));
    const eight = run((p) => new AdamW8bit(p, opts));
    const paged8 = run((p) => createAdamW("paged_adamw8bit", p, { ...opts, budgetBytes: 500_000 }));
    expect(tf.memory().numTensors).toBe(before);
    const maxAbs = (a: ArrayLike<number>, b: ArrayLike<number>) => Math.max(...Array.from(a, (x, i) => Math.abs(x - b[i])));
    const relLoss = (a: number[]) => Math.max(...a.map((l, i) => Math.abs(l - float.losses[i]) / float.losses[i]));
    const moved = maxAbs(float.weights, problemInitWeights());
    if (process.env.LORA_LAB_REPORT) {
      console.log(
        `100 steps: loss ${float.losses[0].toFixed(4)} -> ${float.losses[99].toFixed(4)} (float); paged32 max |dW| ${maxAbs(paged32.weights, float.weights).toExponential(2)}; ` +
          `8-bit max rel loss diff ${relLoss(eight.losses).toExponential(2)}, max |dW| ${maxAbs(eight.weights, float.weights).toExponential(2)} (weights moved ${moved.toExponential(2)}); ` +
          `paged 8-bit max rel loss diff ${relLoss(paged8.losses).toExponential(2)}`,
      );
    }
    expect(float.losses[99]).toBeLessThan(0.5 * float.losses[0]);
    expect(maxAbs(paged32.weights, float.weights)).toBeLessThan(1e-6);
    expect(relLoss(paged32.losses)).toBeLessThan(1e-5);
    expect(relLoss(eight.losses)).toBeLessThan(0.01);
    expect(maxAbs(eight.weights, float.weights)).toBeLessThan(0.02 * moved);
    expect(maxAbs(paged8.weights, eight.weights)).toBeLessThan(1e-6); // paging does not change the arithmetic
  });
});

function problemInitWeights(): Float32Array {
  const w = tf.randomNormal([64, 96], 0, 0.1, "float32", 3);
  const out = w.dataSync() as Float32Array;
  w.dispose();
  return out;
}
