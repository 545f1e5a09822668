import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { gpt2, GPT2Config } from "../../src/models/index.js";
import { ByteTokenizer } from "../../src/tokenizers/index.js";
import { batchStream, batches, makeLmDataset } from "../../src/data/index.js";
import { evaluateLoss, train } from "../../src/train/index.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

describe("training the tiny GPT-2 on one Brown genre (wasm)", () => {
  it("lowers validation loss clearly in 200 steps with a flat tensor count", async () => {
    seed(0);
    const config = GPT2Config.preset("tiny");
    const data = makeLmDataset({ tokenizer: new ByteTokenizer(), genres: "humor", windowLength: 32, validationFraction: 0.1, seed: 0 });
    const model = gpt2(config);
    const val = [...batches(data.validation, { batchSize: 8, seed: 0, shuffle: false })].slice(0, 6);
    const before = await evaluateLoss(model, val);
    // An untrained model is close to a uniform guess over 256 bytes.
    expect(Math.abs(before - Math.log(256))).toBeLessThan(0.3);

    const counts = new Map<number, number>();
    const result = await train(model, {
      data: batchStream(data.train, { batchSize: 8, seed: 0 })[Symbol.iterator](),
      steps: 200,
      lr: 1e-3,
      onEvent: (e) => {
        if (e.type === "step" && (e.step === 10 || e.step === 200)) counts.set(e.step, tf.memory().numTensors);
      },
    });
    expect(result.steps).toBe(200);
    expect(counts.get(200)).toBe(counts.get(10));
    const after = await evaluateLoss(model, val);
    // Reference: the cross-entropy of the same validation targets under the training set's byte
    // frequencies (add-one smoothed), i.e. the best a model blind to context can do. Beating it
    // means the model learned to use the preceding bytes, not just letter frequencies.
    const counts256 = new Float64Array(256);
    let total = 0;
    for (const w of data.train) for (let i = 1; i < w.length; i++) (counts256[w[i]]++, total++);
    let unigram = 0;
    let n = 0;
    for (const b of val) for (const t of b.targets) ((unigram -= Math.log((counts256[t] + 1) / (total + 256))), n++);
    unigram /= n;
    expect(unigram).toBeGreaterThan(2.5); // sanity: English bytes are not that predictable alone
    expect(after).toBeLessThan(before - 2);
    expect(after).toBeLessThan(unigram);
    model.dispose();
  });

  it("repeats the same losses under the same seed, dropout included", async () => {
    const data = makeLmDataset({ tokenizer: new ByteTokenizer(), genres: "humor", windowLength: 16, validationFraction: 0.1, seed: 0 });
    const run = async (s: number) => {
      seed(s);
      const model = gpt2(
        new GPT2Config({ vocabSize: 256, nPositions: 16, nEmbd: 16, nLayer: 1, nHead: 2, residPdrop: 0.1, embdPdrop: 0.1, attnPdrop: 0.1 }),
      );
      const result = await train(model, { data: batchStream(data.train, { batchSize: 2, seed: 0 })[Symbol.iterator](), steps: 4 });
      model.dispose();
      return result.events.map((e) => (e.type === "step" ? e.loss : NaN));
    };
    const first = await run(3);
    expect(await run(3)).toEqual(first);
    expect(await run(4)).not.toEqual(first);
  });

  it("stops at once when the signal aborts", async () => {
    seed(1);
    const model = gpt2(new GPT2Config({ vocabSize: 256, nPositions: 16, nEmbd: 16, nLayer: 1, nHead: 2 }));
    const data = makeLmDataset({ tokenizer: new ByteTokenizer(), genres: "humor", windowLength: 16, validationFraction: 0.1, seed: 0 });
    const controller = new AbortController();
    const result = await train(model, {
      data: batchStream(data.train, { batchSize: 2, seed: 0 })[Symbol.iterator](),
      steps: 50,
      signal: controller.signal,
      onEvent: (e) => {
        if (e.type === "step" && e.step === 3) controller.abort();
      },
    });
    expect(result).toMatchObject({ steps: 3, aborted: true });
    model.dispose();
  });
});
