import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { gpt2 } from "../../src/models/index.js";
import { Linear, Module } from "../../src/nn/index.js";
import { getPeftModel, LoraConfig } from "../../src/peft/index.js";
import { magnitudePrune, sparsityOf } from "../../src/prune/index.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
  vi.spyOn(console, "warn").mockImplementation(() => {});
});

/** A module holding Linear layers with given [out, in] weights (no bias). */
class Two extends Module {
  constructor(weights: number[][][]) {
    super();
    weights.forEach((w, i) => {
      const p = new Linear(w[0].length, w.length, { bias: false });
      const t = tf.tensor2d(w);
      p.weight.assign(t);
      t.dispose();
      this.registerModule(`l${i}`, p);
    });
  }
}

function weightOf(m: Module, name: string): number[] {
  return Array.from(m.namedParameters().get(name)!.variable.dataSync());
}

describe("magnitudePrune", () => {
  it("magnitudePrune zeroes the smallest-|w| half of a weight (hand-computed)", () => {
    const m = new Two([
      [
        [0.5, -0.1],
        [0.3, -0.9],
      ],
    ]);
    const r = magnitudePrune(m, { sparsity: 0.5 });
    expect(weightOf(m, "l0.weight")).toEqual([0.5, 0, 0, expect.closeTo(-0.9, 6)]);
    expect(r.pruned).toBe(2);
    expect(r.total).toBe(4);
    r.dispose();
  });

  it("magnitudePrune counts entries with Python's round (torch: round(0.5 * 5) = 2) and breaks ties by index", () => {
    const m = new Two([[[1, -1, 1, -1, 1]]]);
    const r = magnitudePrune(m, { sparsity: 0.5 });
    expect(weightOf(m, "l0.weight")).toEqual([0, 0, 1, -1, 1]);
    expect(r.weights).toEqual([{ name: "l0.weight", size: 5, pruned: 2 }]);
    r.dispose();
    const m2 = new Two([[[4, 3, 2, 1, 5, 6, 7]]]);
    magnitudePrune(m2, { sparsity: 0.5 }).dispose(); // round(3.5) = 4: 1, 2, 3, 4 go
    expect(weightOf(m2, "l0.weight")).toEqual([0, 0, 0, 0, 5, 6, 7]);
  });

  it("magnitudePrune with scope layer prunes each weight alone; scope global uses one threshold", () => {
    const w = () => [[[1, 2, 3, 4]], [[10, 20, 30, 40]]];
    const a = new Two(w());
    magnitudePrune(a, { sparsity: 0.5 }).dispose();
    expect(weightOf(a, "l0.weight")).toEqual([0, 0, 3, 4]);
    expect(weightOf(a, "l1.weight")).toEqual([0, 0, 30, 40]);
    const b = new Two(w());
    const r = magnitudePrune(b, { sparsity: 0.5, scope: "global" });
    expect(weightOf(b, "l0.weight")).toEqual([0, 0, 0, 0]);
    expect(weightOf(b, "l1.weight")).toEqual([10, 20, 30, 40]);
    expect(r.weights.map((x) => x.pruned)).toEqual([4, 0]);
    r.dispose();
  });

  it("magnitudePrune on GPT-2 selects every block's Conv1D weight, never lm_head, embeddings, biases or LayerNorms", () => {
    seed(0);
    const model = gpt2("tiny");
    const r = magnitudePrune(model, { sparsity: 0.3 });
    const names = r.weights.map((w) => w.name);
    const expected = [0, 1, 2, 3].flatMap((i) =>
      ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"].map((m) => `transformer.h.${i}.${m}.weight`),
    );
    expect(names).toEqual(expected);
    // 128 x 384 = 49152 entries: round(0.3 * 49152) = 14746 zeros (random init has no exact zeros)
    const s = sparsityOf(model);
    expect(s.perWeight["transformer.h.0.attn.c_attn.weight"]).toBe(14746 / 49152);
    expect(s.zeros).toBe(r.pruned);
    const wte = model.namedParameters().get("transformer.wte.weight")!.variable.dataSync();
    expect(wte.every((x) => x !== 0)).toBe(true);
    r.dispose();
    model.dispose();
  });

  it("magnitudePrune with modules picks names by PEFT's suffix rule or a RegExp, and names what exists when nothing matches", () => {
    seed(1);
    const model = gpt2("tiny");
    const r = magnitudePrune(model, { sparsity: 0.5, modules: ["c_fc"] });
    expect(r.weights.map((w) => w.name)).toEqual([0, 1, 2, 3].map((i) => `transformer.h.${i}.mlp.c_fc.weight`));
    r.dispose();
    const g = magnitudePrune(model, { sparsity: 0.1, modules: /\.h\.3\.attn\./ });
    expect(g.weights.map((w) => w.name)).toEqual(["transformer.h.3.attn.c_attn.weight", "transformer.h.3.attn.c_proj.weight"]);
    g.dispose();
    expect(() => magnitudePrune(model, { sparsity: 0.5, modules: ["q_proj"] })).toThrow(
      /no Linear or Conv1D module matches \["q_proj"\]; available: transformer\.h\.0\.attn\.c_attn/,
    );
    expect(() => magnitudePrune(model, { sparsity: 1.5 })).toThrow(/sparsity must be a fraction in \[0, 1\]; got 1.5/);
    model.dispose();
  });

  it("magnitudePrune on a PeftModel prunes the frozen base layers and leaves lora_A / lora_B dense", () => {
    seed(2);
    const peft = getPeftModel(gpt2("tiny"), new LoraConfig({ r: 4, targetModules: ["c_attn"] }));
    const r = magnitudePrune(peft, { sparsity: 0.5, modules: ["c_attn.base_layer"] });
    expect(r.weights.map((w) => w.name)).toEqual(
      [0, 1, 2, 3].map((i) => `base_model.model.transformer.h.${i}.attn.c_attn.base_layer.weight`),
    );
    for (const [name, p] of peft.namedParameters()) {
      if (name.includes("lora_A")) expect(Array.from(p.variable.dataSync()).some((x) => x === 0)).toBe(false);
    }
    r.dispose();
    peft.dispose();
  });

  it("reapply() puts pruned entries back to zero after training moved them, and leaks no tensors", () => {
    const m = new Two([
      [
        [0.5, -0.1],
        [0.3, -0.9],
      ],
    ]);
    const r = magnitudePrune(m, { sparsity: 0.5 });
    const before = tf.memory().numTensors;
    const p = m.namedParameters().get("l0.weight")!;
    const moved = tf.add(p.variable, 1);
    p.assign(moved);
    moved.dispose();
    r.reapply();
    const w = weightOf(m, "l0.weight");
    expect(w[1]).toBe(0);
    expect(w[2]).toBe(0);
    expect(w[0]).toBeCloseTo(1.5, 6);
    expect(w[3]).toBeCloseTo(0.1, 6);
    expect(tf.memory().numTensors).toBe(before);
    r.dispose();
    expect(() => r.reapply()).toThrow(/after dispose/);
  });
});

describe("sparsityOf", () => {
  it("sparsityOf counts exact zeros per weight and overall", () => {
    const m = new Two([
      [
        [0, 1],
        [2, 0],
      ],
      [[0, 0, 0, 3]],
    ]);
    const s = sparsityOf(m);
    expect(s).toEqual({ zeros: 5, total: 8, sparsity: 5 / 8, perWeight: { "l0.weight": 0.5, "l1.weight": 0.75 } });
  });
});
