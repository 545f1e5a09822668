import * as tf from "@tensorflow/tfjs";
import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { ready } from "../../src/engine/index.js";
import { Parameter } from "../../src/nn/index.js";
import { AdamW, AdamW8bit, createAdamW, PagedAdamW, type GradMap } from "../../src/optim/index.js";
import {
  dequantizeOptimState,
  optimDynamicMap,
  quantizeOptimState,
  SIGNED_DYNAMIC_MAP,
  UNSIGNED_DYNAMIC_MAP,
} from "../../src/optim/adamw8bit_state.js";

// Reference: tests/fixtures/make_optim8bit_fixtures.py (torch, bitsandbytes' algorithm written out).
const fixture = JSON.parse(readFileSync(new URL("../fixtures/optim/adamw8bit.json", import.meta.url), "utf8")) as Record<string, number[]>;

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

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
