import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { T5Config, t5 } from "../../src/models/index.js";
import { crossEntropy } from "../../src/nn/index.js";
import { ByteTokenizer } from "../../src/tokenizers/index.js";
import { Dataset, loadDataset, seq2seqData } from "../../src/data/index.js";

const tokenizer = new ByteTokenizer();
const b = (s: string) => [...new TextEncoder().encode(s)];

beforeAll(async () => {
  await ready();
});

describe("seq2seqData", () => {
  it("reads source / target columns of a CSV file into T5 examples with EOS, prefix and padding", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lora-lab-s2s-"));
    const path = join(dir, "pairs.csv");
    writeFileSync(path, "question,answer\nhi,yo\nhow are you,fine\n,empty\n");
    const ds = await loadDataset(path);
    const data = seq2seqData(ds, { tokenizer, eosTokenId: 1, sourceField: "question", targetField: "answer", sourcePrefix: "q: " });
    expect(data.pairs).toEqual([
      { source: "q: hi", target: "yo" },
      { source: "q: how are you", target: "fine" },
    ]);
    expect(data.skipped.count).toBe(1); // an empty question is left out, prefix or not
    expect(data.skipped.examples[0]!.reason).toBe(`${path}:4: empty "question"`);
    expect([...data.examples[0]!.source]).toEqual([...b("q: hi"), 1]);
    const [batch] = [...data.batches({ batchSize: 2, shuffle: false })];
    expect(batch!.sourceShape).toEqual([2, 15]);
    expect([...batch!.labels.subarray(0, 5)]).toEqual([...b("yo"), 1, -100, -100]);
  });

  it("names the record that lacks a column", () => {
    const ds = Dataset.fromRecords([{ source: "a", target: "b" }, { source: "c" }], "pairs.jsonl");
    expect(() => seq2seqData(ds, { tokenizer })).toThrow('pairs.jsonl:2: record has no field "target"');
  });

  it("T5's loss on these labels equals cross-entropy with decoder inputs shifted by hand as transformers does", () => {
    seed(2);
    const model = t5(T5Config.preset("tiny"));
    const ds = Dataset.fromRecords([
      { source: "abc", target: "xyz!" },
      { source: "d", target: "w" },
    ]);
    const data = seq2seqData(ds, { tokenizer, eosTokenId: 1 });
    const [batch] = [...data.batches({ batchSize: 2, shuffle: false })];
    const [B, T] = batch!.labelShape;
    const labels = Array.from(batch!.labels);
    // transformers' shift_tokens_right: decoder_start_token_id first, labels[:-1] after, -100 -> pad.
    const start = model.config.decoderStartTokenId;
    const pad = model.config.padTokenId;
    const decoderInputs: number[][] = [];
    for (let r = 0; r < B; r++) {
      const row = labels.slice(r * T, (r + 1) * T);
      decoderInputs.push([start, ...row.slice(0, T - 1)].map((v) => (v === -100 ? pad : v)));
    }
    const inputIds = tf.tensor2d(batch!.inputIds, batch!.sourceShape, "int32");
    const attentionMask = tf.tensor2d(batch!.attentionMask, batch!.sourceShape, "int32");
    const [viaLoss, byHand] = tf.tidy(() => {
      const labelT = tf.tensor2d(batch!.labels, [B, T], "int32");
      const a = model.loss(inputIds, labelT, { attentionMask }).dataSync()[0]!;
      const logits = model.forward(inputIds, decoderInputs, { attentionMask });
      return [a, crossEntropy(logits, labelT).dataSync()[0]!];
    });
    expect(decoderInputs[1]!.slice(0, 3)).toEqual([start, ...b("w").map(Number), 1]);
    expect(viaLoss).toBeCloseTo(byHand, 6);
    tf.dispose([inputIds, attentionMask]);
    model.dispose();
  });
});
