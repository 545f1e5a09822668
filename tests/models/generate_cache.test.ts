import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { expectNoLeak, ready, seed } from "../../src/engine/index.js";
import { Module } from "../../src/nn/index.js";
import { GPT2Config, LlamaConfig, T5Config, gpt2, llama, t5 } from "../../src/models/index.js";
import { DynamicCache, EncoderDecoderCache } from "../../src/models/kv_cache.js";
import { getPrefixTuningModel } from "../../src/peft/index.js";
import type { CausalGenerateOptions } from "../../src/models/causal_generate.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

const V = 48;
const gpt2Model = (nPositions = 40) => {
  seed(11);
  return gpt2(new GPT2Config({ vocabSize: V, nPositions, nEmbd: 32, nLayer: 2, nHead: 4 }));
};
/** Grouped-query attention (4 query heads over 2 kv heads) with llama3 RoPE scaling, or Mistral's sliding window. */
const llamaModel = (fields: Partial<ConstructorParameters<typeof LlamaConfig>[0]> = {}) => {
  seed(12);
  return llama(
    new LlamaConfig({
      vocabSize: V,
      hiddenSize: 32,
      intermediateSize: 40,
      numHiddenLayers: 2,
      numAttentionHeads: 4,
      numKeyValueHeads: 2,
      maxPositionEmbeddings: 40,
      tieWordEmbeddings: false,
      ropeScaling: { rope_type: "llama3", factor: 8, low_freq_factor: 1, high_freq_factor: 4, original_max_position_embeddings: 8 },
      ...fields,
    }),
  );
};
const t5Model = () => {
  seed(13);
  return t5(new T5Config({ vocabSize: V, dModel: 32, dKv: 8, dFf: 40, numLayers: 2, numDecoderLayers: 3, numHeads: 4 }));
};

const maxDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => a.sub(b).abs().max().dataSync()[0]);
const prompts = [
  [5, 9, 2, 7, 1, 3],
  [4, 8, 6, 2, 9, 11],
];
const sampling = { temperature: 0.9, topK: 20, topP: 0.95, repetitionPenalty: 1.3 };

/** Records the [batch, length] of each call of `fn` on `model`. */
function spyShapes(model: object, fn: "forward" | "decode"): number[][] {
  const shapes: number[][] = [];
  const target = model as Record<string, (...args: unknown[]) => unknown>;
  const original = target[fn].bind(model);
  target[fn] = (ids: unknown, ...rest: unknown[]) => {
    const rows = ids as number[][];
    shapes.push([rows.length, rows[0].length]);
    return original(ids, ...rest);
  };
  return shapes;
}

describe("a cached forward step gives the full forward's logits", () => {
  const causal = [
    ["GPT-2", () => gpt2Model()],
    ["LLaMA (GQA, llama3 RoPE)", () => llamaModel()],
    ["Mistral (sliding window 3)", () => llamaModel({ modelType: "mistral", slidingWindow: 3 })],
  ] as const;
  for (const [name, build] of causal) {
    it(`${name}: a prompt, then one token, then two at once`, async () => {
      const model = build();
      model.eval();
      const ids = [prompts[0].concat([10, 12, 14]), prompts[1].concat([13, 15, 17])];
      const full = model.forward(ids); // [2, 9, V]
      await expectNoLeak(() => {
        const cache = new DynamicCache();
        const chunks = [
          [0, 6],
          [6, 7],
          [7, 9],
        ];
        for (const [from, to] of chunks) {
          const step = model.forward(
            ids.map((r) => r.slice(from, to)),
            { pastKeyValues: cache },
          );
          const expected = full.slice([0, from, 0], [2, to - from, V]);
          expect(maxDiff(step, expected)).toBeLessThan(1e-5);
          expect(cache.length).toBe(to);
          tf.dispose([step, expected]);
        }
        cache.dispose();
      });
      full.dispose();
      model.dispose();
    });
  }

  it("logitsToKeep: n gives the full forward's last n positions (GPT-2 and LLaMA)", () => {
    for (const model of [gpt2Model(), llamaModel()]) {
      model.eval();
      const full = model.forward(prompts);
      const last = model.forward(prompts, { logitsToKeep: 2 });
      expect(last.shape).toEqual([2, 2, V]);
      const expected = full.slice([0, 4, 0], [2, 2, V]);
      expect(maxDiff(last, expected)).toBeLessThan(1e-6);
      expect(() => model.forward(prompts, { logitsToKeep: -1 })).toThrow(/logitsToKeep must be a non-negative integer, got -1/);
      tf.dispose([full, last, expected]);
      model.dispose();
    }
  });

  it("LLaMA's cache holds the key/value heads, not the repeated ones", () => {
    const model = llamaModel();
    model.eval();
    const cache = new DynamicCache();
    model.forward([prompts[0]], { pastKeyValues: cache }).dispose();
    expect(cache.get(0)!.key.shape).toEqual([1, 2, 6, 8]); // [B, numKeyValueHeads, P, headDim]
    cache.dispose();
    model.dispose();
  });

  it("T5's decoder: one token at a time after the encoder, cross-attention keys computed once", async () => {
    const model = t5Model();
    model.eval();
    const encoderHidden = model.encode(prompts);
    const decoderIds = [
      [0, 5, 7, 9, 11],
      [0, 6, 8, 10, 12],
    ];
    const full = model.decode(decoderIds, encoderHidden);
    await expectNoLeak(() => {
      const cache = new EncoderDecoderCache();
      for (let t = 0; t < 5; t++) {
        const step = model.decode(
          decoderIds.map((r) => r.slice(t, t + 1)),
          encoderHidden,
          { pastKeyValues: cache },
        );
        const expected = full.slice([0, t, 0], [2, 1, V]);
        expect(maxDiff(step, expected)).toBeLessThan(1e-5);
        expect(cache.crossAttention.get(0)!.key.shape).toEqual([2, 4, 6, 8]); // the source's 6 positions, always
        expect(cache.length).toBe(t + 1);
        tf.dispose([step, expected]);
      }
      cache.dispose();
    });
    tf.dispose([full, encoderHidden]);
    model.dispose();
  });
});

describe("generate with the cache gives the tokens generate without it gives", () => {
  const models = [
    ["GPT-2", () => gpt2Model(), "forward"],
    ["LLaMA (GQA, llama3 RoPE)", () => llamaModel(), "forward"],
    ["Mistral (sliding window 3)", () => llamaModel({ modelType: "mistral", slidingWindow: 3 }), "forward"],
    ["T5", () => t5Model(), "decode"],
  ] as const;
  for (const [name, build, step] of models) {
    it(`${name}: greedy and seeded sampling, batch of 2; the cached run feeds one token a step`, async () => {
      const model = build();
      const opts = { maxNewTokens: 12, eosTokenId: null };
      const uncachedGreedy = model.generate(prompts, { ...opts, temperature: 0, useCache: false });
      const shapes = spyShapes(model, step);
      const greedy = await expectNoLeak(() => model.generate(prompts, { ...opts, temperature: 0 }));
      expect(greedy).toEqual(uncachedGreedy);
      const first = step === "forward" ? 6 : 1; // the prompt, or T5's decoder start token
      expect(shapes).toEqual([[2, first], ...Array.from({ length: 11 }, () => [2, 1])]);
      seed(21);
      const sampled = model.generate(prompts, { ...opts, ...sampling });
      seed(21);
      expect(model.generate(prompts, { ...opts, ...sampling, useCache: false })).toEqual(sampled);
      expect(sampled).not.toEqual(greedy); // the sampling options are in effect
      model.dispose();
    });
  }

  it("GPT-2 past its n_positions: both crop the context to the last n_positions tokens", () => {
    const model = gpt2Model(10);
    const opts = { maxNewTokens: 10, temperature: 0 };
    const cached = model.generate(prompts, opts);
    expect(cached[0]).toHaveLength(16);
    expect(cached).toEqual(model.generate(prompts, { ...opts, useCache: false }));
    model.dispose();
  });

  it("prefix tuning: the prefixes and the cache together, as without the cache", () => {
    seed(14);
    const model = getPrefixTuningModel(gpt2Model(), { numVirtualTokens: 3 });
    const opts = { maxNewTokens: 8, temperature: 0 };
    expect(model.generate(prompts, opts)).toEqual(model.generate(prompts, { ...opts, useCache: false }));
    model.dispose();
  });

  it("an attention wrapper that drops the cache argument is an error, not silently wrong tokens", () => {
    const model = gpt2Model();
    class Dropping extends Module {
      constructor(readonly inner: Module & { forward(x: tf.Tensor): tf.Tensor }) {
        super();
        this.registerModule("inner", inner);
      }
      forward(x: tf.Tensor): tf.Tensor {
        return this.inner.forward(x);
      }
    }
    model.setSubmodule("transformer.h.1.attn", new Dropping(model.transformer.h.at(1).attn));
    expect(() => model.generate(prompts, { maxNewTokens: 2 })).toThrow(
      /KV cache: attention layer 1 holds 0 positions after the forward, expected 6 .* generate with useCache: false/,
    );
    expect(model.generate(prompts, { maxNewTokens: 2, useCache: false })[0]).toHaveLength(8);
    model.dispose();
  });
});

describe("left-padded batches continue each prompt as it would alone", () => {
  const short = [3, 14, 9];
  const long = [7, 1, 12, 5, 8, 2, 6];
  const padded = [[0, 0, 0, 0, ...short], long];
  const attentionMask = [[0, 0, 0, 0, 1, 1, 1], long.map(() => 1)];
  const causal = [
    ["GPT-2", () => gpt2Model()],
    ["LLaMA (GQA, llama3 RoPE)", () => llamaModel()],
    ["Mistral (sliding window 3)", () => llamaModel({ modelType: "mistral", slidingWindow: 3 })],
  ] as const;
  for (const [name, build] of causal) {
    for (const useCache of [true, false]) {
      it(`${name}, ${useCache ? "with" : "without"} the cache: greedy, with a repetition penalty`, () => {
        const model = build();
        const opts: CausalGenerateOptions = { maxNewTokens: 10, temperature: 0, repetitionPenalty: 1.4, useCache };
        const alone = [model.generate(short, opts)[0], model.generate(long, opts)[0]];
        const batch = model.generate(padded, { ...opts, attentionMask });
        expect(batch[0]).toEqual([0, 0, 0, 0, ...alone[0]]);
        expect(batch[1]).toEqual(alone[1]);
        model.dispose();
      });
    }
  }

  it("T5: right-padded sources with the attention mask, with and without the cache", () => {
    const model = t5Model();
    const opts = { maxNewTokens: 10, temperature: 0, eosTokenId: null };
    const alone = [model.generate(short, opts)[0], model.generate(long, opts)[0]];
    const sources = [[...short, 0, 0, 0, 0], long];
    const mask = [[1, 1, 1, 0, 0, 0, 0], long.map(() => 1)];
    expect(model.generate(sources, { ...opts, attentionMask: mask })).toEqual(alone);
    expect(model.generate(sources, { ...opts, attentionMask: mask, useCache: false })).toEqual(alone);
    model.dispose();
  });
});
