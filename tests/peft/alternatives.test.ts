import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { gpt2, GPT2Config, t5 } from "../../src/models/index.js";
import type { Conv1D } from "../../src/nn/index.js";
import { BottleneckLayer, getBottleneckModel, getPrefixTuningModel, PrefixAttention } from "../../src/peft/index.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
  vi.spyOn(console, "log").mockImplementation(() => {});
});

const ids = [[3, 1, 4, 1, 5, 9]];
function logits(m: { forward(x: number[][]): tf.Tensor }): Float32Array {
  const t = m.forward(ids);
  const d = t.dataSync() as Float32Array;
  t.dispose();
  return d;
}
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

describe("bottleneck adapters", () => {
  it("start as the identity, count 2 (C m + m + m C + C) per sublayer, and add up(relu(down(h)))", () => {
    seed(1);
    const base = gpt2("tiny");
    const before = logits(base);
    const model = getBottleneckModel(base, { bottleneckSize: 16 });
    expect(maxAbsDiff(logits(model), before)).toBe(0);
    const C = 128,
      m = 16,
      L = 4;
    const per = C * m + m + m * C + C;
    const all = base.numParameters();
    expect(model.getNbTrainableParameters()).toEqual([2 * L * per, all]);
    expect(model.printTrainableParameters()).toMatch(/^trainable params: 33,920 \|\| all params: /);
    const layer = base.getSubmodule("transformer.h.0.mlp.c_proj") as BottleneckLayer;
    for (const p of layer.adapter.parameters()) {
      const v = tf.randomNormal(p.shape, 0, 0.1, "float32", p.size);
      p.assign(v);
      v.dispose();
    }
    const x = tf.randomNormal([2, 512], 0, 1, "float32", 9);
    const y = layer.forward(x).arraySync() as number[][];
    const h = (layer.base_layer as Conv1D).forward(x).arraySync() as number[][];
    const Wd = layer.adapter.adapter_down.weight.variable.arraySync() as number[][]; // [m, C]
    const bd = layer.adapter.adapter_down.bias!.variable.arraySync() as number[];
    const Wu = layer.adapter.adapter_up.weight.variable.arraySync() as number[][]; // [C, m]
    const bu = layer.adapter.adapter_up.bias!.variable.arraySync() as number[];
    let err = 0;
    h.forEach((row, b) => {
      const z = Wd.map((w, j) =>
        Math.max(
          0,
          w.reduce((s, v, i) => s + v * row[i], bd[j]),
        ),
      );
      row.forEach((hv, o) => (err = Math.max(err, Math.abs(y[b][o] - (hv + Wu[o].reduce((s, v, j) => s + v * z[j], bu[o]))))));
    });
    expect(err).toBeLessThan(1e-5);
    expect(
      maxAbsDiff(
        model.disableAdapter(() => logits(model)),
        before,
      ),
    ).toBe(0);
    x.dispose();
  });

  it("defaults to the output projections of T5 attention and MLP; errors list what exists", () => {
    seed(2);
    const model = getBottleneckModel(t5("tiny"), { bottleneckSize: 4 });
    const wrapped = [...model.model.namedModules()].filter(([, m]) => m instanceof BottleneckLayer).map(([k]) => k);
    expect(wrapped).toContain("encoder.block.0.layer.0.SelfAttention.o");
    expect(wrapped).toContain("decoder.block.0.layer.1.EncDecAttention.o");
    expect(wrapped.some((k) => k.endsWith("DenseReluDense.wo") || k.endsWith(".wo"))).toBe(true);
    expect(() => getBottleneckModel(gpt2("tiny"), { targetModules: ["nope"] })).toThrow(
      /targets \["nope"\] match no module; modules: transformer, /,
    );
    expect(() => getBottleneckModel(gpt2("tiny"), { bottleneckSize: 0 })).toThrow(/bottleneckSize must be a positive integer, got 0/);
  });
});

describe("prefix tuning", () => {
  it("counts P L 2 C and matches attention over [prefix; tokens] computed by hand", () => {
    seed(3);
    const cfg = GPT2Config.preset("tiny", { nEmbd: 8, nHead: 2, nLayer: 2 });
    const base = gpt2(cfg);
    const before = logits(base);
    const P = 3;
    const model = getPrefixTuningModel(base, { numVirtualTokens: P });
    expect(model.getNbTrainableParameters()[0]).toBe(P * 2 * 2 * 8);
    expect(
      maxAbsDiff(
        model.disableAdapter(() => logits(model)),
        before,
      ),
    ).toBe(0);
    expect(maxAbsDiff(logits(model), before)).toBeGreaterThan(1e-4);
    const layer = base.getSubmodule("transformer.h.0.attn") as PrefixAttention;
    const T = 4,
      C = 8,
      nh = 2,
      hs = 4;
    const x = tf.randomNormal([1, T, C], 0, 1, "float32", 4);
    const y = layer.forward(x).arraySync() as number[][][];
    // reference in plain arrays
    const X = (x.arraySync() as number[][][])[0];
    const cattn = layer.base_layer.getSubmodule("c_attn") as Conv1D;
    const cproj = layer.base_layer.getSubmodule("c_proj") as Conv1D;
    const lin = (row: number[], c: Conv1D) => {
      const W = c.weight.variable.arraySync() as number[][];
      const b = c.bias.variable.arraySync() as number[];
      return b.map((bv, o) => row.reduce((s, v, i) => s + v * W[i][o], bv));
    };
    const qkv = X.map((r) => lin(r, cattn));
    const pk = layer.prefix_key.variable.arraySync() as number[][];
    const pv = layer.prefix_value.variable.arraySync() as number[][];
    const out: number[][] = [];
    for (let t = 0; t < T; t++) {
      const yRow = new Array(C).fill(0);
      for (let h = 0; h < nh; h++) {
        const q = qkv[t].slice(h * hs, (h + 1) * hs);
        const ks = [
          ...pk.map((r) => r.slice(h * hs, (h + 1) * hs)),
          ...qkv.slice(0, t + 1).map((r) => r.slice(C + h * hs, C + (h + 1) * hs)),
        ];
        const vs = [
          ...pv.map((r) => r.slice(h * hs, (h + 1) * hs)),
          ...qkv.slice(0, t + 1).map((r) => r.slice(2 * C + h * hs, 2 * C + (h + 1) * hs)),
        ];
        const sc = ks.map((k) => k.reduce((s, v, i) => s + v * q[i], 0) / Math.sqrt(hs));
        const mx = Math.max(...sc);
        const e = sc.map((s) => Math.exp(s - mx));
        const z = e.reduce((a, b) => a + b, 0);
        for (let i = 0; i < hs; i++) yRow[h * hs + i] = vs.reduce((s, v, j) => s + (e[j] / z) * v[i], 0);
      }
      out.push(lin(yRow, cproj));
    }
    expect(maxAbsDiff(y[0].flat(), out.flat())).toBeLessThan(1e-5);
    x.dispose();
    expect(() => getPrefixTuningModel(t5("tiny"))).toThrow(/no supported attention layer .* module types: /);
  });
});
