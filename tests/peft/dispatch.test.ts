import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { gpt2 } from "../../src/models/index.js";
import { Conv1D, Embedding, LayerNorm, Linear, type Module } from "../../src/nn/index.js";
import {
  BottleneckConfig,
  BottleneckLayer,
  createLoraLayer,
  getPeftModel,
  LORA_DISPATCHERS,
  LoraConfig,
  LoraEmbedding,
  LoraLinear,
  LoraLinear4bit,
  PeftModel,
  PrefixAttention,
  PrefixTuningConfig,
  TunedModel,
} from "../../src/peft/index.js";
import { Linear4bit } from "../../src/quant/linear4bit.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

describe("createLoraLayer(target, key): the ordered dispatcher table", () => {
  // [base layer, LoRA class, kind, fanInFanOut]
  const cases: Array<[string, () => Module, new (...a: never[]) => unknown, string, boolean]> = [
    ["Linear", () => new Linear(8, 4), LoraLinear, "linear", false],
    ["Conv1D (GPT-2's [in, out] weight)", () => new Conv1D(8, 4), LoraLinear, "conv1d", true],
    ["Embedding", () => new Embedding(10, 4), LoraEmbedding, "embedding", true],
    [
      "Linear4bit (before Linear: first match wins)",
      () => Linear4bit.fromLayer(new Linear(64, 4), { quantType: "nf4", blocksize: 64 }),
      LoraLinear4bit,
      "linear",
      false,
    ],
  ];
  for (const [label, make, cls, kind, fanInFanOut] of cases) {
    it(`wraps a ${label} with ${cls.name}`, () => {
      seed(1);
      const base = make();
      const layer = createLoraLayer(base, "x");
      expect(layer).toBeInstanceOf(cls);
      expect(layer.constructor).toBe(cls);
      expect([layer.kind, layer.fanInFanOut, layer.base_layer]).toEqual([kind, fanInFanOut, base]);
      layer.dispose();
    });
  }

  it("lists the dispatchers in order, the quantized base first, and names them when none matches", () => {
    expect(LORA_DISPATCHERS.map((d) => d.name)).toEqual(["Linear4bit", "Embedding", "Conv1D", "Linear"]);
    expect(() => createLoraLayer(new LayerNorm(4), "transformer.ln_f")).toThrow(
      /Target module "transformer.ln_f" \(LayerNorm\) is not supported\. .*supported: Linear4bit, Embedding, Conv1D, Linear$/,
    );
  });

  it("the 4-bit base keeps its packed weight: merging names what is needed", () => {
    seed(2);
    const layer = createLoraLayer(Linear4bit.fromLayer(new Linear(64, 4), { quantType: "nf4", blocksize: 64 }), "q");
    layer.updateLayer("default", { r: 2, alpha: 4, dropout: 0, useRslora: false, initLoraWeights: true });
    expect(() => layer.merge()).toThrow(/4-bit Linear4bit: merging, DoRA and PiSSA need a float weight/);
    layer.dispose();
  });
});

describe("getPeftModel(base, config): the config's class picks the method", () => {
  it("LoraConfig or its fields -> PeftModel; BottleneckConfig and PrefixTuningConfig -> their TunedModels", () => {
    seed(3);
    const lora = getPeftModel(gpt2("tiny"), new LoraConfig({ r: 2, targetModules: ["c_attn"] }));
    const fields = getPeftModel(gpt2("tiny"), { r: 2, targetModules: ["c_attn"] });
    const bottleneck = getPeftModel(gpt2("tiny"), new BottleneckConfig({ bottleneckSize: 4 }));
    const prefix = getPeftModel(gpt2("tiny"), new PrefixTuningConfig({ numVirtualTokens: 3 }));
    expect([lora, fields].map((m) => m instanceof PeftModel)).toEqual([true, true]);
    expect([bottleneck, prefix].map((m) => [m instanceof TunedModel, m instanceof PeftModel, m.method])).toEqual([
      [true, false, "bottleneck adapters"],
      [true, false, "prefix tuning"],
    ]);
    expect(bottleneck.model.getSubmodule("transformer.h.0.mlp.c_proj")).toBeInstanceOf(BottleneckLayer);
    expect(prefix.model.getSubmodule("transformer.h.0.attn")).toBeInstanceOf(PrefixAttention);
    // PEFT's names under LoRA, the base model's own under the other methods.
    expect([...lora.namedParameters().keys()].some((n) => n.startsWith("base_model.model.transformer.h.0.attn.c_attn.lora_A."))).toBe(true);
    expect([...prefix.namedParameters().keys()]).toContain("model.transformer.h.0.attn.prefix_key");
    for (const m of [lora, fields, bottleneck, prefix]) m.dispose();
  });

  it("validates the method configs as they are built", () => {
    expect(() => new BottleneckConfig({ bottleneckSize: 1.5 })).toThrow(/bottleneckSize must be a positive integer, got 1.5/);
    expect(() => new PrefixTuningConfig({ numVirtualTokens: 0 })).toThrow(/numVirtualTokens must be a positive integer, got 0/);
  });

  it("a prefix-tuned layer equals GPT-2 attention given the prefixes as past keys and values", () => {
    seed(4);
    const model = getPeftModel(gpt2("tiny"), new PrefixTuningConfig({ numVirtualTokens: 2 }));
    model.eval();
    const layer = model.model.getSubmodule("transformer.h.1.attn") as PrefixAttention;
    const x = tf.randomNormal([1, 5, 128], 0, 1, "float32", 5);
    const diff = tf.tidy(() => {
      const heads = (t: tf.Tensor) => t.reshape([1, 2, 4, 32]).transpose([0, 2, 1, 3]); // [1, nh, P, hs]
      const direct = layer.base_layer.forward(x, { key: heads(layer.prefix_key.variable), value: heads(layer.prefix_value.variable) });
      return layer.forward(x).sub(direct).abs().max().dataSync()[0];
    });
    expect(diff).toBe(0);
    const without = tf.tidy(() => layer.forward(x).sub(layer.base_layer.forward(x)).abs().max().dataSync()[0]);
    expect(without).toBeGreaterThan(1e-3);
    x.dispose();
    model.dispose();
  });
});
