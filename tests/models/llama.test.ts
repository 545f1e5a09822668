import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { LlamaConfig, llama, ropeInverseFrequencies, slidingWindowBias } from "../../src/models/index.js";

const small = (fields: Partial<ConstructorParameters<typeof LlamaConfig>[0]> = {}) =>
  new LlamaConfig({
    vocabSize: 40,
    hiddenSize: 16,
    intermediateSize: 24,
    numHiddenLayers: 2,
    numAttentionHeads: 4,
    numKeyValueHeads: 2,
    maxPositionEmbeddings: 16,
    tieWordEmbeddings: true,
    ...fields,
  });

/** Parameters of a LLaMA-family config by the published layout (no model built). */
function countByFormula(c: LlamaConfig): number {
  const C = c.hiddenSize;
  const q = c.numAttentionHeads * c.headDim;
  const kv = c.numKeyValueHeads * c.headDim;
  const attn = C * q + 2 * C * kv + q * C + (c.qkvBias ? q + 2 * kv : 0) + (c.oBias ? C : 0);
  const mlp = 3 * C * c.intermediateSize + (c.mlpBias ? 2 * c.intermediateSize + C : 0);
  const embeddings = c.vocabSize * C * (c.tieWordEmbeddings ? 1 : 2);
  return embeddings + c.numHiddenLayers * (attn + mlp + 2 * C) + C;
}

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

describe("LlamaConfig", () => {
  it("the SmolLM2-135M shape has 134,515,008 parameters by the published layout (the built model: llama_peft.test.ts)", () => {
    const c = LlamaConfig.preset("smollm2-135m");
    expect(c).toMatchObject({
      hiddenSize: 576,
      numHiddenLayers: 30,
      numAttentionHeads: 9,
      numKeyValueHeads: 3,
      headDim: 64,
      intermediateSize: 1536,
      vocabSize: 49152,
    });
    expect(countByFormula(c)).toBe(134_515_008);
  });

  it("the other presets have their checkpoints' published sizes", () => {
    // Model cards: SmolLM2-360M 362M, Qwen2.5-0.5B 0.49B (494,032,768), TinyLlama 1.1B (1,100,048,384).
    expect(countByFormula(LlamaConfig.preset("smollm2-360m"))).toBe(361_821_120);
    expect(countByFormula(LlamaConfig.preset("qwen2.5-0.5b"))).toBe(494_032_768);
    expect(countByFormula(LlamaConfig.preset("tinyllama-1.1b"))).toBe(1_100_048_384);
    const tiny = llama("tiny");
    expect(tiny.numParameters()).toBe(countByFormula(tiny.config));
    expect(tiny.config).toMatchObject({ vocabSize: 256, modelType: "llama", tieWordEmbeddings: true });
    tiny.dispose();
    expect(() => LlamaConfig.preset("llama-70b")).toThrow(
      /unknown LLaMA preset "llama-70b"; available: tiny, smollm2-135m, smollm2-360m, qwen2.5-0.5b, tinyllama-1.1b/,
    );
  });

  it("fromJSON takes each model type's transformers defaults and toJSON writes the type back", () => {
    const llamaC = LlamaConfig.fromJSON({ model_type: "llama" });
    expect(llamaC).toMatchObject({
      vocabSize: 32000,
      hiddenSize: 4096,
      intermediateSize: 11008,
      numKeyValueHeads: 32,
      headDim: 128,
      rmsNormEps: 1e-6,
      bosTokenId: 1,
      eosTokenId: 2,
      tieWordEmbeddings: false,
      maxPositionEmbeddings: 2048,
    });
    const qwen = LlamaConfig.fromJSON({ model_type: "qwen2" });
    expect(qwen).toMatchObject({
      vocabSize: 151936,
      intermediateSize: 22016,
      maxPositionEmbeddings: 32768,
      bosTokenId: null,
      qkvBias: true,
      oBias: false,
    });
    const mistral = LlamaConfig.fromJSON({ model_type: "mistral", hidden_size: 64, num_attention_heads: 4, num_key_value_heads: 2 });
    expect(mistral).toMatchObject({
      intermediateSize: 14336,
      maxPositionEmbeddings: 131072,
      slidingWindow: 4096,
      numKeyValueHeads: 2,
      headDim: 16,
    });
    for (const [c, type, arch] of [
      [llamaC, "llama", "LlamaForCausalLM"],
      [qwen, "qwen2", "Qwen2ForCausalLM"],
      [mistral, "mistral", "MistralForCausalLM"],
    ] as const) {
      const json = c.toJSON();
      expect(json).toMatchObject({ model_type: type, architectures: [arch] });
      expect(LlamaConfig.fromJSON(json)).toEqual(c);
    }
    expect(qwen.toJSON()).not.toHaveProperty("attention_bias"); // Qwen2Config has no such key
    expect(llamaC.toJSON()).not.toHaveProperty("sliding_window");
  });

  it("reads rope_scaling in both spellings and rejects what it does not compute", () => {
    expect(LlamaConfig.fromJSON({ rope_scaling: { type: "linear", factor: 4 } }).ropeScaling).toEqual({ type: "linear", factor: 4 });
    expect(() => LlamaConfig.fromJSON({ rope_scaling: { rope_type: "yarn", factor: 4 } })).toThrow(
      /rope_type "yarn".*supported: default, linear, llama3/,
    );
    expect(() => new LlamaConfig({ ropeScaling: { rope_type: "llama3", factor: 8 } })).toThrow(
      /needs positive numbers low_freq_factor, high_freq_factor, original_max_position_embeddings/,
    );
    expect(() => LlamaConfig.fromJSON({ model_type: "gpt2" })).toThrow(/model_type "gpt2", expected one of llama, qwen2, mistral/);
    expect(() => new LlamaConfig({ numAttentionHeads: 6, numKeyValueHeads: 4, hiddenSize: 48 })).toThrow(/multiple of numKeyValueHeads/);
    expect(() => new LlamaConfig({ nLayer: 2 } as never)).toThrow(/unknown field\(s\) nLayer/);
    // snake_case keyword names override the model type's defaults too.
    expect(new LlamaConfig({ model_type: "qwen2", vocab_size: 100 } as never).vocabSize).toBe(100);
  });

  it("RoPE frequencies: theta^(-2i/d), divided by the factor (linear), Llama 3.1's piecewise rule (llama3)", () => {
    const base = { headDim: 8, ropeTheta: 10000 };
    const plain = ropeInverseFrequencies({ ...base, ropeScaling: null });
    expect([...plain]).toEqual([1, 0.1, 0.01, 0.001].map((f, i) => expect.closeTo(f, 15 - i)));
    expect([...ropeInverseFrequencies({ ...base, ropeScaling: { type: "linear", factor: 2 } })]).toEqual([...plain].map((f) => f / 2));
    // Wavelengths 2pi/f = 6.3, 63, 628, 6283 against 8192/4 = 2048 and 8192/1: kept, kept, kept, smoothed.
    const s = { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8192 };
    const l3 = ropeInverseFrequencies({ ...base, ropeScaling: s });
    expect([...l3.slice(0, 3)]).toEqual([...plain.slice(0, 3)]);
    const smooth = (8192 / ((2 * Math.PI) / 0.001) - 1) / 3;
    expect(l3[3]).toBeCloseTo((1 - smooth) * (0.001 / 8) + smooth * 0.001, 15);
  });
});

describe("LlamaForCausalLM", () => {
  it("names modules exactly as transformers' LlamaForCausalLM", () => {
    const model = llama(small({ tieWordEmbeddings: false }));
    const names = [...model.namedModules().keys()];
    for (const n of [
      "model.embed_tokens",
      "model.layers.0.self_attn.q_proj",
      "model.layers.0.self_attn.k_proj",
      "model.layers.0.self_attn.v_proj",
      "model.layers.0.self_attn.o_proj",
      "model.layers.1.mlp.gate_proj",
      "model.layers.1.mlp.up_proj",
      "model.layers.1.mlp.down_proj",
      "model.layers.1.input_layernorm",
      "model.layers.1.post_attention_layernorm",
      "model.norm",
      "lm_head",
    ]) {
      expect(names).toContain(n);
    }
    expect(model.stateDict()["model.layers.0.self_attn.k_proj.weight"].shape).toEqual([8, 16]); // 2 kv heads of 4
    expect(Object.keys(model.stateDict()).filter((k) => k.endsWith(".bias"))).toEqual([]);
    model.dispose();
  });

  it("is causal: changing a later token leaves earlier logits unchanged", () => {
    seed(5);
    const model = llama(small()).eval();
    const a = model.forward([[1, 2, 3, 4, 5]]).arraySync()[0];
    const b = model.forward([[1, 2, 3, 9, 5]]).arraySync()[0];
    expect(b.slice(0, 3)).toEqual(a.slice(0, 3));
    expect(b[3]).not.toEqual(a[3]);
    model.dispose();
  });

  it("right padding under the attention mask leaves the real tokens' logits as without the padding", () => {
    seed(6);
    const model = llama(small());
    const alone = model.forward([[4, 8, 15, 16]]);
    const padded = model.forward(
      [
        [4, 8, 15, 16, 0, 0],
        [1, 2, 3, 4, 5, 6],
      ],
      {
        attentionMask: [
          [1, 1, 1, 1, 0, 0],
          [1, 1, 1, 1, 1, 1],
        ],
      },
    );
    const kept = padded.slice([0, 0, 0], [1, 4, -1]);
    expect(tf.abs(kept.sub(alone)).max().dataSync()[0]).toBeLessThan(1e-5);
    expect(() => model.forward([[1, 2]], { attentionMask: [[1, 1, 1]] })).toThrow(
      /attention mask shape \[1,3\] does not match input ids shape \[1,2\]/,
    );
    tf.dispose([alone, padded, kept]);
    model.dispose();
  });

  it("a sliding window of w hides keys at distance >= w", () => {
    const bias = slidingWindowBias(5, 2).reshape([5, 5]).arraySync() as number[][];
    // Brute force from the definition: key j is visible to query i when j > i - w (the causal mask does j <= i).
    bias.forEach((row, i) => row.forEach((v, j) => expect(v).toBe(j > i - 2 ? 0 : -1e9)));
    seed(7);
    const windowed = llama(small({ modelType: "mistral", slidingWindow: 2 }));
    const ids = [[3, 1, 4, 1, 5, 9]];
    const a = windowed.forward(ids).arraySync()[0];
    // Two layers see back 2 * (w - 1) = 2 positions: changing token 0 leaves position 3 on unchanged.
    const b = windowed.forward([[7, 1, 4, 1, 5, 9]]).arraySync()[0];
    expect(b.slice(3)).toEqual(a.slice(3));
    expect(b[2]).not.toEqual(a[2]);
    windowed.dispose();
  });

  it("sampling is reproducible under seed() and topK 1 equals greedy", () => {
    seed(9);
    const model = llama(small());
    seed(1);
    const first = model.generate([3, 4], { maxNewTokens: 5, temperature: 1 });
    seed(1);
    expect(model.generate([3, 4], { maxNewTokens: 5, temperature: 1 })).toEqual(first);
    expect(model.generate([3, 4], { maxNewTokens: 5, topK: 1 })).toEqual(model.generate([3, 4], { maxNewTokens: 5, temperature: 0 }));
    expect(() => model.generate([3, 99], { maxNewTokens: 1 })).toThrow(/token 99 at \[0, 1\] is outside the vocabulary \[0, 40\)/);
    model.dispose();
  });

  it("leaves no tensors behind after forward, loss, gradients and generate", () => {
    // Training mode with attention dropout takes the composed path; generate (eval) the fused one.
    const model = llama(small({ modelType: "qwen2", slidingWindow: 2, useSlidingWindow: true, maxWindowLayers: 1, attentionDropout: 0.1 }));
    const before = tf.memory().numTensors;
    model.forward([[1, 2, 3, 4]], { attentionMask: [[0, 1, 1, 1]] }).dispose();
    model.loss([[1, 2, 3]], [[2, 3, -100]]).dispose();
    const { value, grads } = tf.variableGrads(() => model.loss([[1, 2, 3, 4]], [[2, 3, 4, 5]]), model.trainableVariables());
    tf.dispose([value, ...Object.values(grads)]);
    model.generate([1, 2], { maxNewTokens: 3, temperature: 0 });
    expect(tf.memory().numTensors).toBe(before);
    model.dispose();
  });
});
