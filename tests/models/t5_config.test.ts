import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { T5Config, t5 } from "../../src/models/index.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

const small = (fields: Partial<ConstructorParameters<typeof T5Config>[0]> = {}) =>
  new T5Config({
    vocabSize: 40,
    dModel: 16,
    dKv: 4,
    dFf: 24,
    numLayers: 2,
    numHeads: 4,
    relativeAttentionNumBuckets: 8,
    relativeAttentionMaxDistance: 16,
    dropoutRate: 0,
    ...fields,
  });

describe("T5Config and presets", () => {
  it("the t5-small shape has exactly 60,506,624 parameters (HF's count, tied head)", () => {
    // From the config alone first, by the architecture's formula.
    const c = T5Config.preset("t5-small");
    const D = c.dModel,
      F = c.dFf,
      I = c.innerDim,
      bias = c.relativeAttentionNumBuckets * c.numHeads;
    const attention = 4 * D * I,
      ff = 2 * D * F;
    const encoder = c.numLayers * (attention + ff + 2 * D) + bias + D;
    const decoder = c.decoderLayers * (2 * attention + ff + 3 * D) + bias + D;
    expect(c.vocabSize * D + encoder + decoder).toBe(60_506_624);
    const model = t5("t5-small");
    expect(model.numParameters()).toBe(60_506_624);
    expect(model.lm_head.weight).toBe(model.shared.weight);
    expect(model.encoder.embed_tokens).toBe(model.shared);
    model.dispose();
  });

  it("presets have the documented shapes", () => {
    expect(T5Config.preset("tiny")).toMatchObject({
      vocabSize: 256,
      dModel: 64,
      dKv: 16,
      dFf: 128,
      numLayers: 2,
      numHeads: 4,
      dropoutRate: 0,
      padTokenId: 0,
      eosTokenId: 1,
    });
    expect(T5Config.preset("t5-small")).toMatchObject({
      vocabSize: 32128,
      dModel: 512,
      dKv: 64,
      dFf: 2048,
      numLayers: 6,
      numHeads: 8,
      feedForwardProj: "relu",
    });
    expect(() => T5Config.preset("t5-huge")).toThrow(/unknown T5 preset "t5-huge"; available: tiny, t5-small/);
  });

  it("reads and writes Hugging Face config.json fields", () => {
    // t5-small's config.json carries fields T5 does not use (n_positions, task_specific_params).
    const c = T5Config.fromJSON({
      model_type: "t5",
      d_model: 32,
      d_kv: 8,
      num_heads: 4,
      num_layers: 3,
      num_decoder_layers: 1,
      feed_forward_proj: "gated-gelu",
      n_positions: 512,
      task_specific_params: {},
    });
    expect(c).toMatchObject({ dModel: 32, dKv: 8, numHeads: 4, numLayers: 3, decoderLayers: 1, isGatedAct: true, denseActFn: "gelu_new" });
    expect(c.toJSON()).toMatchObject({
      model_type: "t5",
      architectures: ["T5ForConditionalGeneration"],
      d_model: 32,
      num_decoder_layers: 1,
      layer_norm_epsilon: 1e-6,
    });
    expect(T5Config.fromJSON(c.toJSON())).toEqual(c);
    expect(new T5Config({ numLayers: 4 }).decoderLayers).toBe(4);
    expect(new T5Config({ feedForwardProj: "gated-silu" }).denseActFn).toBe("silu");
  });

  it("rejects bad fields, saying what is expected", () => {
    expect(() => T5Config.fromJSON({ model_type: "gpt2" })).toThrow(/model_type "gpt2", expected "t5"/);
    expect(() => new T5Config({ feedForwardProj: "gated-swish" })).toThrow(
      /"gated-swish" is not "<activation>" or "gated-<activation>"; activations: gelu_new/,
    );
    expect(() => new T5Config({ numLayer: 2 } as never)).toThrow(/unknown field\(s\) numLayer; known: vocabSize/);
    expect(() => new T5Config({ vocabSize: 256, eosTokenId: 300 })).toThrow(/eosTokenId must be a token id in \[0, 256\), got 300/);
    expect(() => new T5Config({ dKv: 0 })).toThrow(/dKv must be a positive integer/);
  });
});

describe("T5ForConditionalGeneration structure", () => {
  it("names modules exactly as Hugging Face's T5ForConditionalGeneration", () => {
    const model = t5(small({ feedForwardProj: "gated-gelu", numDecoderLayers: 1 }));
    const names = [...model.namedModules().keys()];
    for (const n of [
      "shared",
      "lm_head",
      "encoder.final_layer_norm",
      "decoder.final_layer_norm",
      "encoder.block.0.layer.0.SelfAttention.q",
      "encoder.block.0.layer.0.SelfAttention.relative_attention_bias",
      "encoder.block.1.layer.0.SelfAttention.o",
      "encoder.block.1.layer.0.layer_norm",
      "encoder.block.1.layer.1.DenseReluDense.wi_0",
      "encoder.block.1.layer.1.DenseReluDense.wi_1",
      "encoder.block.1.layer.1.DenseReluDense.wo",
      "decoder.block.0.layer.0.SelfAttention.k",
      "decoder.block.0.layer.0.SelfAttention.relative_attention_bias",
      "decoder.block.0.layer.1.EncDecAttention.v",
      "decoder.block.0.layer.1.layer_norm",
      "decoder.block.0.layer.2.DenseReluDense.wo",
    ])
      expect(names).toContain(n);
    // The embedding shared by both stacks is listed once, under "shared", as PyTorch's
    // named_modules() does, and still reachable under its other names.
    expect(names).not.toContain("encoder.embed_tokens");
    expect(model.getSubmodule("encoder.embed_tokens")).toBe(model.getSubmodule("shared"));
    expect(model.getSubmodule("decoder.embed_tokens")).toBe(model.getSubmodule("shared"));
    // Only the first block of each stack owns a position table; cross-attention never has one.
    expect(names.filter((n) => n.endsWith("relative_attention_bias"))).toEqual([
      "encoder.block.0.layer.0.SelfAttention.relative_attention_bias",
      "decoder.block.0.layer.0.SelfAttention.relative_attention_bias",
    ]);
    const keys = Object.keys(model.stateDict());
    for (const k of ["shared.weight", "encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"])
      expect(keys).toContain(k);
    model.dispose();
  });

  it('the modules a LoRA config with targetModules ["q", "v"] would wrap: self-attention in both stacks and cross-attention', () => {
    const model = t5(small({ numLayers: 2, numDecoderLayers: 2 }));
    const matched = [...model.namedModules().keys()].filter((n) => ["q", "v"].includes(n.split(".").at(-1)!));
    expect(matched).toEqual([
      "encoder.block.0.layer.0.SelfAttention.q",
      "encoder.block.0.layer.0.SelfAttention.v",
      "encoder.block.1.layer.0.SelfAttention.q",
      "encoder.block.1.layer.0.SelfAttention.v",
      "decoder.block.0.layer.0.SelfAttention.q",
      "decoder.block.0.layer.0.SelfAttention.v",
      "decoder.block.0.layer.1.EncDecAttention.q",
      "decoder.block.0.layer.1.EncDecAttention.v",
      "decoder.block.1.layer.0.SelfAttention.q",
      "decoder.block.1.layer.0.SelfAttention.v",
      "decoder.block.1.layer.1.EncDecAttention.q",
      "decoder.block.1.layer.1.EncDecAttention.v",
    ]);
    model.dispose();
  });
});

describe("T5ForConditionalGeneration behaviour", () => {
  it("the decoder is causal, the encoder bidirectional", () => {
    seed(5);
    const model = t5(small()).eval();
    const src = [[3, 4, 5, 6, 7]];
    const a = model.forward(src, [[0, 9, 10, 11]]).arraySync()[0];
    const b = model.forward(src, [[0, 9, 12, 11]]).arraySync()[0];
    expect(b.slice(0, 2)).toEqual(a.slice(0, 2));
    expect(b[2]).not.toEqual(a[2]);
    // Changing the last source token changes the first decoder position's logits.
    const c = model.forward([[3, 4, 5, 6, 8]], [[0, 9, 10, 11]]).arraySync()[0];
    expect(c[0]).not.toEqual(a[0]);
    model.dispose();
  });

  it("masked source positions do not influence the output", () => {
    seed(6);
    const model = t5(small()).eval();
    const mask = [[1, 1, 1, 0, 0]];
    const a = model.forward([[3, 4, 5, 0, 0]], [[0, 9]], { attentionMask: mask }).dataSync();
    const b = model.forward([[3, 4, 5, 17, 23]], [[0, 9]], { attentionMask: mask }).dataSync();
    const c = model.forward([[3, 4, 5]], [[0, 9]]).dataSync();
    a.forEach((v, i) => {
      expect(b[i]).toBeCloseTo(v, 5);
      expect(c[i]).toBeCloseTo(v, 5);
    });
    model.dispose();
  });

  it("rejects ids outside the vocabulary and masks of the wrong shape", () => {
    const model = t5(small());
    expect(() => model.forward([[1, 40]], [[0]])).toThrow(/token 40 at \[0, 1\] is outside the vocabulary \[0, 40\)/);
    expect(() => model.forward([[1, 2]], [[0]], { attentionMask: [[1, 1, 1]] })).toThrow(
      /attention mask shape \[1,3\] does not match input ids shape \[1,2\]/,
    );
    expect(() => model.forward([[1, 2]], [[0], [0]])).toThrow(/decoder input ids have batch 2 but the encoder output has batch 1/);
    const hidden = model.encode([[1, 2]]);
    expect(() => model.decode([[0]], hidden, { attentionMask: [[1, 1, 1]] })).toThrow(
      /attention mask shape \[1,3\] does not match the encoder output's \[batch, length\] \[1,2\]/,
    );
    hidden.dispose();
    model.dispose();
  });

  it("generate stops at the EOS token and pads finished rows; sampling is reproducible under seed()", () => {
    seed(9);
    const model = t5(small());
    seed(1);
    const first = model.generate(
      [
        [3, 4],
        [5, 6],
      ],
      { maxNewTokens: 6, temperature: 1 },
    );
    seed(1);
    expect(
      model.generate(
        [
          [3, 4],
          [5, 6],
        ],
        { maxNewTokens: 6, temperature: 1 },
      ),
    ).toEqual(first);
    for (const row of first) {
      expect(row[0]).toBe(0); // decoder start token
      const eos = row.indexOf(1);
      if (eos > 0) expect(row.slice(eos + 1).every((t) => t === 0)).toBe(true);
    }
    expect(model.generate([3, 4], { maxNewTokens: 4, topK: 1 })).toEqual(model.generate([3, 4], { maxNewTokens: 4, temperature: 0 }));
    expect(model.training).toBe(true);
    model.dispose();
  });

  it("leaves no tensors behind after forward, loss and generate", () => {
    const model = t5(small());
    const before = tf.memory().numTensors;
    model.forward([[1, 2, 3]], [[0, 4]]).dispose();
    model.loss([[1, 2, 3]], [[2, 3, -100]], { attentionMask: [[1, 1, 0]] }).dispose();
    model.generate([1, 2], { maxNewTokens: 3, temperature: 0 });
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
