import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { gpt2, t5 } from "../../src/models/index.js";
import type { Conv1D } from "../../src/nn/index.js";
import {
  applyPlan,
  articlePlan,
  encoderDecoderPlan,
  formatPlanTable,
  getPeftModel,
  LoraLayer,
  PeftModel,
  planTable,
} from "../../src/peft/index.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
  vi.spyOn(console, "warn").mockImplementation(() => {});
});

describe("LoRA on Q and V only inside GPT-2's fused c_attn", () => {
  it("updates only the Q and V column blocks, with r (C + 2C) parameters", () => {
    seed(1);
    const model = getPeftModel(gpt2("tiny"), { r: 4, targetModules: ["c_attn"] }, "default", { fusedQkv: ["q", "v"] });
    expect(model.getNbTrainableParameters()[0]).toBe(4 * 4 * (128 + 256));
    const layer = model.baseModel.getSubmodule("transformer.h.0.attn.c_attn") as LoraLayer;
    for (const [name, p] of model.namedParameters()) {
      if (!name.includes("lora_")) continue;
      const v = tf.randomNormal(p.shape, 0, 0.1, "float32", 3);
      p.assign(v);
      v.dispose();
    }
    const x = tf.randomNormal([2, 128], 0, 1, "float32", 5);
    const y = layer.forward(x);
    const base = (layer.base_layer as Conv1D).forward(x);
    const diff = y.sub(base).arraySync() as number[][];
    // reference: scaling * x A^T B^T, placed in Q (cols 0..127) and V (cols 256..383); K untouched
    const X = x.arraySync() as number[][];
    const A = layer.lora_A.get("default")!.weight.variable.arraySync() as number[][];
    const B = layer.lora_B.get("default")!.weight.variable.arraySync() as number[][]; // [256, 4]
    let err = 0;
    X.forEach((row, b) => {
      const ax = A.map((a) => a.reduce((s, v, i) => s + v * row[i], 0));
      for (let o = 0; o < 384; o++) {
        const src = o < 128 ? o : o >= 256 ? o - 128 : -1;
        const want = src < 0 ? 0 : (8 / 4) * B[src].reduce((s, v, k) => s + v * ax[k], 0);
        err = Math.max(err, Math.abs(diff[b][o] - want));
      }
    });
    expect(err).toBeLessThan(1e-5);
    // merged weights give the same outputs
    model.merge();
    const merged = layer.forward(x);
    expect(tf.tidy(() => merged.sub(y).abs().max().dataSync()[0])).toBeLessThan(1e-5);
    tf.dispose([x, y, base, merged]);
  });

  it("refuses to save in PEFT's format and to target layers that are not fused", async () => {
    seed(2);
    const model = getPeftModel(gpt2("tiny"), { r: 4, targetModules: ["c_attn"] }, "default", { fusedQkv: ["q", "v"] });
    await expect(model.savePretrained("/tmp/never")).rejects.toThrow(
      /Q\/V-only LoRA on transformer.h.0.attn.c_attn, which Python PEFT cannot load/,
    );
    expect(() => getPeftModel(gpt2("tiny"), { targetModules: ["c_fc"] }, "default", { fusedQkv: ["q", "v"] })).toThrow(
      /none of the targeted modules is a fused QKV projection/,
    );
  });
});

describe("layer plans", () => {
  it("articlePlan on the tiny shape: groups, counts by hand, param groups and table", () => {
    seed(3);
    const base = gpt2("tiny"); // 4 layers: lower 0-1 frozen, middle 2 (r 8), upper 3 (r 16), C 128
    const plan = articlePlan(base);
    expect(plan.groups.map((g) => [g.name, g.layers, g.role])).toEqual([
      ["lower", [0, 1], "frozen"],
      ["middle", [2], "lora"],
      ["upper", [3], "lora"],
    ]);
    const applied = applyPlan(base, plan);
    const model = applied.model as PeftModel;
    expect(applied.loraConfig!.targetModules).toEqual(["transformer.h.2.attn.c_attn", "transformer.h.3.attn.c_attn"]);
    expect(applied.loraConfig!.rankPattern).toEqual({ "transformer\\.h\\.3\\.attn\\.c_attn": 16 });
    expect(applied.loraConfig!.alphaPattern).toEqual({ "transformer\\.h\\.3\\.attn\\.c_attn": 32 });
    const middle = 8 * (128 + 256);
    const upper = 16 * (128 + 256);
    const head = 256 * 128;
    expect(model.getNbTrainableParameters()[0]).toBe(middle + upper + head);
    const groups = Object.fromEntries(applied.paramGroups.map((g) => [g.name, g.params]));
    expect(Object.keys(groups).sort()).toEqual(["head", "middle", "upper"]);
    expect(groups.head).toEqual(["base_model.model.lm_head.modules_to_save.default.weight"]);
    expect(groups.upper).toEqual([
      "base_model.model.transformer.h.3.attn.c_attn.lora_A.default.weight",
      "base_model.model.transformer.h.3.attn.c_attn.lora_B.default.weight",
    ]);
    const rows = planTable(model, plan);
    expect(rows.map((r) => [r.layer, r.role, r.rank ?? null, r.trainableParams])).toEqual([
      [0, "frozen", null, 0],
      [1, "frozen", null, 0],
      [2, "lora", 8, middle],
      [3, "lora", 16, upper],
      ["embeddings and norms", "frozen", null, 0],
      ["lm_head", "full", null, head],
    ]);
    expect(formatPlanTable(rows)).toContain(`total trainable: ${(middle + upper + head).toLocaleString("en-US")}`);
  });

  it("a plan with fully trainable layers and LR multipliers", () => {
    seed(4);
    const applied = applyPlan(gpt2("tiny"), {
      embeddings: "frozen",
      head: "frozen",
      groups: [
        { name: "bottom", layers: [0, 1, 2], role: "frozen" },
        { name: "top", layers: [3], role: "full", lrMultiplier: 0.5 },
      ],
    });
    const C = 128;
    const block = 4 * C + (3 * C * C + 3 * C) + (C * C + C) + (4 * C * C + 4 * C) + (4 * C * C + C);
    expect(applied.model.numParameters({ trainableOnly: true })).toBe(block);
    expect(applied.paramGroups).toEqual([{ name: "top", params: applied.trainable, lrMultiplier: 0.5 }]);
    expect(applied.trainable.every((n) => n.startsWith("transformer.h.3."))).toBe(true);
  });

  it("encoderDecoderPlan puts LoRA on decoder self- and cross-attention q, v", () => {
    seed(5);
    const base = t5("tiny");
    const plan = encoderDecoderPlan(base, { r: 4 });
    const applied = applyPlan(base, plan);
    const wrapped = applied.loraConfig!.targetModules as string[];
    expect(wrapped.every((k) => k.startsWith("decoder."))).toBe(true);
    expect(wrapped).toContain("decoder.block.0.layer.0.SelfAttention.q");
    expect(wrapped).toContain("decoder.block.0.layer.1.EncDecAttention.v");
    const rows = planTable(applied.model, plan);
    const lora = rows.filter((r) => r.role === "lora");
    expect(lora.reduce((s, r) => s + r.trainableParams, 0)).toBe(applied.model.numParameters({ trainableOnly: true }));
    expect(() =>
      applyPlan(t5("tiny"), {
        embeddings: "frozen",
        head: "frozen",
        groups: [{ name: "x", layers: [99], role: "lora", r: 2, targetModules: ["q"] }],
      }),
    ).toThrow(/plan group "x": targets \["q"\] match no module in layers \[99\]/);
  });
});
