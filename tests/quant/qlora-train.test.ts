import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it, vi } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { gpt2, GPT2Config } from "../../src/models/index.js";
import { ByteTokenizer } from "../../src/tokenizers/index.js";
import { batchStream, batches, brownDocuments, makeLmDataset, splitDocuments, tokenWindows } from "../../src/data/index.js";
import { evaluateLoss, train } from "../../src/train/index.js";
import { getPeftModel } from "../../src/peft/index.js";
import { quantizeModel } from "../../src/quant/index.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
  vi.spyOn(console, "warn").mockImplementation(() => {});
});

describe("QLoRA on Brown text (wasm)", () => {
  it("an NF4 double-quantized base with r 8 LoRA on c_attn learns a new domain as float LoRA does", async () => {
    seed(0);
    const config = GPT2Config.preset("tiny");
    const tokenizer = new ByteTokenizer();
    // A base that knows some English (full training on news), then a domain it has never seen:
    // humor written in capitals, so every byte of the new domain is rare for the base and the
    // adapters have a large, unambiguous amount to learn.
    const news = makeLmDataset({ tokenizer, genres: "news", windowLength: WINDOW, validationFraction: 0.1, seed: 0 });
    const humor = splitDocuments(brownDocuments("humor"), { validationFraction: 0.2, seed: 0 });
    const shouted = (docs: { text: string }[]) =>
      tokenWindows(tokenizer.encode(docs.map((d) => d.text.toUpperCase()).join("\n\n")), { length: WINDOW });
    const trainWindows = shouted(humor.train);
    const val = [...batches(shouted(humor.validation), { batchSize: 16, seed: 0, shuffle: false })].slice(0, 4);
    const pretrained = gpt2(config);
    await train(pretrained, { data: batchStream(news.train, { batchSize: 8, seed: 1 }), steps: PRETRAIN_STEPS, lr: 1e-3 });
    const weights = pretrained.stateDict();

    const run = async (quantized: boolean) => {
      seed(5);
      const base = gpt2(config);
      base.loadStateDict(weights);
      if (quantized) quantizeModel(base, { quantType: "nf4", blocksize: 64, doubleQuant: true });
      const model = getPeftModel(base, { r: 8, loraAlpha: 16, targetModules: ["c_attn"] });
      const before = await evaluateLoss(model, val);
      await train(model, { data: batchStream(trainWindows, { batchSize: 8, seed: 2 }), steps: LORA_STEPS, lr: 1e-2 });
      const after = await evaluateLoss(model, val);
      model.dispose();
      return { before, after };
    };
    const float = await run(false);
    const tensors = tf.memory().numTensors;
    const qlora = await run(true);
    expect(tf.memory().numTensors).toBe(tensors);
    console.log(
      `validation loss: float LoRA ${float.before.toFixed(4)} -> ${float.after.toFixed(4)}, QLoRA ${qlora.before.toFixed(4)} -> ${qlora.after.toFixed(4)}`,
    );
    pretrained.dispose();
    // Observed (wasm, these seeds): float LoRA 6.6378 -> 4.2026, QLoRA 6.6354 -> 4.2017.
    // The 4-bit base starts where the float one does (NF4 error is small next to the loss)...
    expect(Math.abs(qlora.before - float.before)).toBeLessThan(0.02);
    // ...both runs learn the new domain by well over a nat...
    expect(float.after).toBeLessThan(float.before - 1.5);
    expect(qlora.after).toBeLessThan(qlora.before - 1.5);
    // ...and QLoRA ends within 0.05 nats (2% of the drop) of float LoRA trained on the same batches.
    expect(Math.abs(qlora.after - float.after)).toBeLessThan(0.05);
  });
});

const WINDOW = 16;
const PRETRAIN_STEPS = 80;
const LORA_STEPS = 40;
