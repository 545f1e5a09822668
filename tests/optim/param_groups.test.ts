import { describe, expect, it } from "vitest";
import { paramGroupsByLayer } from "../../src/optim/index.js";
import { layerIndexOf } from "../../src/optim/param_groups.js";

describe("paramGroupsByLayer(names, lrMultiplier)", () => {
  const gpt2 = [
    "transformer.wte.weight",
    "transformer.h.0.attn.c_attn.weight",
    "transformer.h.1.attn.c_attn.weight",
    "transformer.h.1.mlp.c_fc.bias",
    "transformer.h.2.ln_1.weight",
    "transformer.ln_f.weight",
  ];

  it("groups GPT-2 parameters by layer with the multiplier of each, leaving the rest to the default group", () => {
    const groups = paramGroupsByLayer(gpt2, (i) => (i === 1 ? 0.1 : i === 2 ? 1 : undefined));
    expect(groups).toEqual([
      { name: "layer.1", params: ["transformer.h.1.attn.c_attn.weight", "transformer.h.1.mlp.c_fc.bias"], lrMultiplier: 0.1 },
      { name: "layer.2", params: ["transformer.h.2.ln_1.weight"], lrMultiplier: 1 },
    ]);
  });

  it("finds layer indices as PEFT does: block before layer for T5, none outside the layers", () => {
    expect(layerIndexOf("encoder.block.3.layer.1.SelfAttention.q.weight")).toBe(3);
    expect(layerIndexOf("decoder.block.11.layer.2.DenseReluDense.wo.weight")).toBe(11);
    expect(layerIndexOf("transformer.h.10.attn.c_proj.weight")).toBe(10);
    expect(layerIndexOf("model.layers.7.self_attn.q_proj.weight")).toBe(7);
    expect(layerIndexOf("transformer.wpe.weight")).toBeUndefined();
    expect(layerIndexOf("encoder.block.3.layer.1.SelfAttention.q.weight", ["layer"])).toBe(1);
  });
});
