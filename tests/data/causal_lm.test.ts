import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { GPT2Config, gpt2 } from "../../src/models/index.js";
import { ByteTokenizer, HFTokenizer } from "../../src/tokenizers/index.js";
import { train } from "../../src/train/index.js";
import { Dataset, DataError, IGNORE_INDEX, causalLmData, collateCausalLm, packExamples } from "../../src/data/index.js";
import { EOS, TINY_CONFIG, tinyBpeJson } from "../tokenizers/tiny-bpe.js";

const bpe = new HFTokenizer(tinyBpeJson(), TINY_CONFIG); // bytes are their own ids; EOS 261, no pad token
const b = (s: string) => [...new TextEncoder().encode(s)];
const ex = (ids: number[], labels = ids) => ({ inputIds: Int32Array.from(ids), labels: Int32Array.from(labels) });

beforeAll(async () => {
  await ready();
});

describe("packExamples", () => {
  it("joins examples and cuts windows of T + 1 sharing one token, labels travelling with their tokens", () => {
    const { windows, droppedTokens } = packExamples([ex([1, 2, 3], [-100, 2, 3]), ex([4, 5, 6, 7, 8])], 3);
    expect(windows.map((w) => [...w.inputIds])).toEqual([
      [1, 2, 3, 4],
      [4, 5, 6, 7],
    ]);
    expect(windows.map((w) => [...w.labels])).toEqual([
      [-100, 2, 3, 4],
      [4, 5, 6, 7],
    ]);
    expect(droppedTokens).toBe(1); // token 8: 8 tokens, windows cover 7
  });
});

describe("collateCausalLm", () => {
  it("pads on the right: inputs with the pad id, targets -100, mask 0; targets are the next labels", () => {
    const batch = collateCausalLm([ex([5, 6, 7, 8], [-100, -100, 7, 8]), ex([9, 10])], { padTokenId: 0 });
    expect(batch.shape).toEqual([2, 3]);
    expect([...batch.inputIds]).toEqual([5, 6, 7, 9, 0, 0]);
    expect([...batch.targets]).toEqual([-100, 7, 8, 10, -100, -100]);
    expect([...batch.attentionMask]).toEqual([1, 1, 1, 1, 0, 0]);
    expect(collateCausalLm([ex([1, 2])], { padTo: 4 }).shape).toEqual([1, 4]);
    expect(() => collateCausalLm([ex([1])])).toThrow(/example 0 has 1 token\(s\)/);
  });
});

describe("causalLmData", () => {
  const ds = Dataset.fromRecords([{ text: "ab" }, { text: "" }, { text: "xyzw" }], "notes.jsonl");

  it("packs documents with EOS after each into full windows, reporting the empty text and the tail", () => {
    const data = causalLmData(ds, { tokenizer: bpe, maxLength: 4 });
    // stream: a b EOS x y z w EOS (8 tokens) -> windows [0..5), [4..9) needs 9: one window, 3 tokens dropped
    expect(data.examples.map((e) => [...e.inputIds])).toEqual([[...b("ab"), EOS, ...b("xy")]]);
    expect(data.report).toMatchObject({ records: 2, tokens: 8, droppedTokens: 3, truncated: 0 });
    expect(data.report.skipped.count).toBe(1);
    expect(data.report.skipped.examples[0]).toMatchObject({ file: "notes.jsonl", line: 2, reason: "notes.jsonl:2: empty text" });
  });

  it("without packing gives each document its own padded row (pad = EOS when the tokenizer has no pad token), truncating to T + 1", () => {
    const data = causalLmData(ds, { tokenizer: bpe, maxLength: 3, packing: false });
    expect(data.padTokenId).toBe(EOS);
    expect(data.report.truncated).toBe(1);
    const [batch] = data.evalBatches(2);
    expect(batch!.shape).toEqual([2, 3]);
    expect([...batch!.inputIds]).toEqual([...b("ab"), EOS, ...b("xyz")]);
    expect([...batch!.targets]).toEqual([98, EOS, IGNORE_INDEX, ...b("yzw")]);
    expect([...batch!.attentionMask]).toEqual([1, 1, 0, 1, 1, 1]);
  });

  it("separates documents with a blank line for a tokenizer without EOS (the byte tokenizer)", () => {
    const data = causalLmData(Dataset.fromRecords([{ text: "a" }, { text: "b" }]), { tokenizer: new ByteTokenizer(), maxLength: 5 });
    expect([...data.examples[0]!.inputIds]).toEqual(b("a\n\nb\n\n"));
  });

  it("names the record without the text field", () => {
    const bad = Dataset.fromRecords([{ text: "a" }, { body: "b" }], "x.jsonl");
    expect(() => causalLmData(bad, { tokenizer: bpe, maxLength: 2 })).toThrow(DataError);
    expect(() => causalLmData(bad, { tokenizer: bpe, maxLength: 2 })).toThrow('x.jsonl:2: record has no field "text"');
    expect(causalLmData(Dataset.fromRecords([{ body: "abc" }]), { tokenizer: bpe, maxLength: 2, textField: "body" }).examples).toHaveLength(
      1,
    );
  });
});

describe("padded batches and the loss", () => {
  it("a right-padded batch's loss is the token-weighted mean of each row's loss alone (padding changes nothing)", () => {
    seed(3);
    const model = gpt2(new GPT2Config({ vocabSize: 262, nPositions: 16, nEmbd: 16, nLayer: 2, nHead: 2 }));
    model.train(false); // no dropout: the two computations must see the same network
    const docs = Dataset.fromRecords([{ text: "a longer document" }, { text: "short" }, { text: "mid size" }]);
    const data = causalLmData(docs, { tokenizer: bpe, maxLength: 15, packing: false });
    const [batch] = data.evalBatches(3);
    const [B, T] = batch!.shape;
    const padded = tf.tidy(
      () => model.loss(tf.tensor2d(batch!.inputIds, [B, T], "int32"), tf.tensor2d(batch!.targets, [B, T], "int32")).dataSync()[0]!,
    );
    // Reference: each document alone, unpadded, as the model would see it with no batch at all.
    let sum = 0;
    let count = 0;
    for (const e of data.examples) {
      const n = e.inputIds.length - 1;
      const loss = tf.tidy(() => model.loss([Array.from(e.inputIds.subarray(0, n))], [Array.from(e.labels.subarray(1))]).dataSync()[0]!);
      sum += loss * n;
      count += n;
    }
    expect(batch!.attentionMask.some((m) => m === 0)).toBe(true);
    expect(padded).toBeCloseTo(sum / count, 5);
    model.dispose();
  });

  it("train() takes the batches as they are", async () => {
    seed(0);
    const model = gpt2(new GPT2Config({ vocabSize: 262, nPositions: 16, nEmbd: 16, nLayer: 1, nHead: 2 }));
    const docs = Dataset.fromRecords(Array.from({ length: 8 }, (_, i) => ({ text: `document number ${i}` })));
    const packed = causalLmData(docs, { tokenizer: bpe, maxLength: 8 });
    const padded = causalLmData(docs, { tokenizer: bpe, maxLength: 8, packing: false });
    for (const data of [packed, padded]) {
      const result = await train(model, { data: data.batches({ batchSize: 2, seed: 1 }), steps: 3, lr: 1e-3, progress: false });
      const losses = result.events.flatMap((e) => (e.type === "step" ? [e.loss] : []));
      expect(losses).toHaveLength(3);
      expect(losses.every(Number.isFinite)).toBe(true);
    }
    model.dispose();
  });
});
