import * as tf from "@tensorflow/tfjs";
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import { expectNoLeak, ready, seed } from "../../src/engine/index.js";
import { GPT2Config, GPT2LMHeadModel, fromPretrained, gpt2 } from "../../src/models/index.js";
import { estimateMemory } from "../../src/quant/index.js";

const GOLDEN = fileURLToPath(new URL("../fixtures/gpt2-golden", import.meta.url));
// Made by tests/fixtures/make_gpt2_golden.py: an independent PyTorch implementation of HF's GPT-2.
const expected = JSON.parse(readFileSync(`${GOLDEN}/expected.json`, "utf8")) as {
  input_ids: number[][];
  targets: number[][];
  logits: number[];
  logits_shape: number[];
  loss: number;
  greedy_prompt: number[];
  greedy_ids: number[];
  num_parameters: number;
};

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

describe("GPT-2 against the PyTorch reference", () => {
  it("gives the reference logits (max abs diff < 1e-4)", async () => {
    const model = await fromPretrained<GPT2LMHeadModel>(GOLDEN);
    model.eval();
    expect(model.numParameters()).toBe(expected.num_parameters);
    const logits = model.forward(expected.input_ids);
    expect(logits.shape).toEqual(expected.logits_shape);
    expect(maxAbsDiff(logits.dataSync(), expected.logits)).toBeLessThan(1e-4);
    logits.dispose();
    model.dispose();
  });

  it("gives the reference cross-entropy, ignoring -100 targets", async () => {
    const model = await fromPretrained<GPT2LMHeadModel>(GOLDEN);
    model.eval();
    const loss = model.loss(expected.input_ids, expected.targets);
    expect(Math.abs(loss.dataSync()[0] - expected.loss)).toBeLessThan(1e-4);
    loss.dispose();
    model.dispose();
  });

  it("greedy generate() continues the prompt as the reference does", async () => {
    const model = await fromPretrained<GPT2LMHeadModel>(GOLDEN);
    const n = expected.greedy_ids.length - expected.greedy_prompt.length;
    expect(model.generate(expected.greedy_prompt, { maxNewTokens: n, temperature: 0 })).toEqual([expected.greedy_ids]);
    model.dispose();
  });
});

describe("GPT2Config and presets", () => {
  it("the 124M gpt2 shape has exactly 124,439,808 parameters (HF's count, tied head)", () => {
    // Counted from the config alone first, by the published formula.
    const c = GPT2Config.preset("gpt2");
    const perLayer =
      4 * c.nEmbd +
      (c.nEmbd * 3 * c.nEmbd + 3 * c.nEmbd) +
      (c.nEmbd * c.nEmbd + c.nEmbd) +
      2 * (c.nEmbd * 4 * c.nEmbd) +
      4 * c.nEmbd +
      c.nEmbd;
    expect(c.vocabSize * c.nEmbd + c.nPositions * c.nEmbd + c.nLayer * perLayer + 2 * c.nEmbd).toBe(124_439_808);
    const model = gpt2("gpt2");
    expect(model.numParameters()).toBe(124_439_808);
    expect(model.lm_head.weight).toBe(model.transformer.wte.weight);
    model.dispose();
  });

  it("the gpt2-medium preset is transformers' 355M shape: 354,823,168 parameters", () => {
    const c = GPT2Config.preset("gpt2-medium");
    expect(c).toMatchObject({ vocabSize: 50257, nPositions: 1024, nEmbd: 1024, nLayer: 24, nHead: 16 });
    // Counted tensor by tensor from the shape (building 355M weights is a bench job, not a test's).
    expect(estimateMemory({ model: c as never, method: "full" }).parameters).toBe(354_823_168);
  });

  it("presets have the documented shapes", () => {
    expect(GPT2Config.preset("tiny")).toMatchObject({ vocabSize: 256, nEmbd: 128, nLayer: 4, nHead: 4, nPositions: 64 });
    expect(GPT2Config.preset("small")).toMatchObject({ vocabSize: 256, nEmbd: 256, nLayer: 6, nHead: 8, nPositions: 128 });
    expect(() => GPT2Config.preset("huge")).toThrow(/unknown GPT-2 preset "huge"; available: tiny, small, gpt2/);
  });

  it("reads and writes Hugging Face config.json fields", () => {
    const c = GPT2Config.fromJSON({
      model_type: "gpt2",
      vocab_size: 100,
      n_embd: 32,
      n_layer: 2,
      n_head: 4,
      n_positions: 16,
      summary_type: "cls_index",
    });
    expect(c).toMatchObject({ vocabSize: 100, nEmbd: 32, nLayer: 2, nHead: 4, nPositions: 16, activationFunction: "gelu_new" });
    expect(c.toJSON()).toMatchObject({
      model_type: "gpt2",
      vocab_size: 100,
      n_embd: 32,
      layer_norm_epsilon: 1e-5,
      architectures: ["GPT2LMHeadModel"],
    });
    expect(() => GPT2Config.fromJSON({ model_type: "t5" })).toThrow(/model_type "t5", expected "gpt2"/);
    expect(() => new GPT2Config({ nEmbd: 100, nHead: 3 })).toThrow(/divisible by nHead/);
    expect(() => new GPT2Config({ nLayers: 2 } as never)).toThrow(/unknown field\(s\) nLayers/);
  });

  it("names modules exactly as Hugging Face's GPT2LMHeadModel", () => {
    const model = gpt2(new GPT2Config({ vocabSize: 16, nPositions: 8, nEmbd: 8, nLayer: 2, nHead: 2 }));
    const names = [...model.namedModules().keys()];
    for (const n of [
      "transformer.wte",
      "transformer.wpe",
      "transformer.h.0.ln_1",
      "transformer.h.0.attn.c_attn",
      "transformer.h.0.attn.c_proj",
      "transformer.h.1.ln_2",
      "transformer.h.1.mlp.c_fc",
      "transformer.h.1.mlp.c_proj",
      "transformer.ln_f",
      "lm_head",
    ]) {
      expect(names).toContain(n);
    }
    expect(Object.keys(model.stateDict())).toContain("lm_head.weight");
    model.dispose();
  });
});

describe("GPT2LMHeadModel behaviour", () => {
  it("is causal: changing a later token leaves earlier logits unchanged", () => {
    seed(5);
    const model = gpt2(new GPT2Config({ vocabSize: 32, nPositions: 16, nEmbd: 16, nLayer: 2, nHead: 2 })).eval();
    const a = model.forward([[1, 2, 3, 4, 5]]).arraySync()[0];
    const b = model.forward([[1, 2, 3, 9, 5]]).arraySync()[0];
    expect(b.slice(0, 3)).toEqual(a.slice(0, 3));
    expect(b[3]).not.toEqual(a[3]);
    model.dispose();
  });

  it("rejects ids outside the vocabulary and sequences longer than n_positions", () => {
    const model = gpt2(new GPT2Config({ vocabSize: 32, nPositions: 4, nEmbd: 16, nLayer: 1, nHead: 2 }));
    expect(() => model.forward([[1, 40]])).toThrow(/token 40 at \[0, 1\] is outside the vocabulary \[0, 32\)/);
    expect(() => model.forward([[1, 2, 3, 4, 5]])).toThrow(/sequence length 5 exceeds the model's 4 positions/);
    expect(() => model.forward([[1, 2], [3]])).toThrow(/same length/);
    model.dispose();
  });

  it("sampling is reproducible under seed() and topK 1 equals greedy", () => {
    seed(9);
    const model = gpt2(new GPT2Config({ vocabSize: 32, nPositions: 16, nEmbd: 16, nLayer: 1, nHead: 2 }));
    seed(1);
    const first = model.generate([3, 4], { maxNewTokens: 6, temperature: 1 });
    seed(1);
    expect(model.generate([3, 4], { maxNewTokens: 6, temperature: 1 })).toEqual(first);
    expect(model.generate([3, 4], { maxNewTokens: 6, topK: 1 })).toEqual(model.generate([3, 4], { maxNewTokens: 6, temperature: 0 }));
    expect(() => model.generate([3], { maxNewTokens: -1 })).toThrow(/maxNewTokens/);
    model.dispose();
  });

  it("leaves no tensors behind after forward, loss and generate", async () => {
    const model = gpt2(new GPT2Config({ vocabSize: 32, nPositions: 16, nEmbd: 16, nLayer: 1, nHead: 2 }));
    await expectNoLeak(() => {
      model.forward([[1, 2, 3]]).dispose();
      model.loss([[1, 2, 3]], [[2, 3, -100]]).dispose();
      model.generate([1, 2], { maxNewTokens: 3, temperature: 0 });
    });
    model.dispose();
  });
});
