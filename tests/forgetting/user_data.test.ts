import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { loadDataset } from "../../src/data/index.js";
import { runForgettingExperiment, strategies, userForgettingData } from "../../src/forgetting/index.js";
import { GPT2Config, gpt2 } from "../../src/models/index.js";
import { ByteTokenizer } from "../../src/tokenizers/index.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

const tokenizer = new ByteTokenizer();
const dir = mkdtempSync(join(tmpdir(), "lora-lab-forget-"));
const qa = Array.from({ length: 20 }, (_, i) => ({ prompt: `Q: ${i} + 1?\nA:`, completion: ` ${i + 1}` }));
writeFileSync(join(dir, "qa.jsonl"), qa.map((r) => JSON.stringify(r)).join("\n") + "\n");
writeFileSync(join(dir, "general.txt"), Array.from({ length: 30 }, (_, i) => `An old sentence number ${i}, kept for later.`).join("\n"));

/** Mean negative log-likelihood of the completion bytes (and the "\n\n" separator after them), by hand from the logits. */
function completionLoss(model: ReturnType<typeof gpt2>, records: { prompt: string; completion: string }[]): number {
  let sum = 0;
  let count = 0;
  for (const r of records) {
    const ids = tokenizer.encode(r.prompt + r.completion + "\n\n");
    const promptLen = tokenizer.encode(r.prompt).length;
    const logp = tf.tidy(() => tf.logSoftmax(model.forward([ids.slice(0, -1)])).arraySync() as number[][][]);
    for (let t = promptLen - 1; t < ids.length - 1; t++) {
      sum -= logp[0]![t]![ids[t + 1]!]!;
      count++;
    }
  }
  return sum / count;
}

describe("runForgettingExperiment on the user's files", () => {
  it("takes instruction records and old-knowledge text from loadDataset: baselines on the completion tokens only, LoRA and replay runs", async () => {
    const domain = await loadDataset(join(dir, "qa.jsonl"));
    const general = await loadDataset(join(dir, "general.txt"));
    const data = userForgettingData({ tokenizer, domain, retain: { general }, general, maxLength: 24, batchSize: 4, seed: 0 });
    seed(0);
    const base = gpt2(
      new GPT2Config({ vocabSize: 256, nPositions: 32, nEmbd: 16, nLayer: 2, nHead: 2, residPdrop: 0, embdPdrop: 0, attnPdrop: 0 }),
    );
    const result = await runForgettingExperiment({
      base,
      ...data,
      strategies: [strategies.loraQV({ lr: 1e-2, r: 2 }), strategies.fullNaive({ lr: 1e-3, replay: { fraction: 0.25 } })],
      steps: 3,
      batchSize: 4,
      seed: 0,
      evalEvery: 3,
      ranks: false,
    });
    // The held-out records are the ones trainTestSplit picks with the same seed; the domain loss is on their completions alone.
    const heldOut = domain.trainTestSplit({ testSize: 0.1, seed: 0 }).test.records as { prompt: string; completion: string }[];
    expect(heldOut).toHaveLength(2);
    expect(result.baseline["domain"]).toBeCloseTo(completionLoss(base, heldOut), 4);
    expect(Object.keys(result.baseline).sort()).toEqual(["domain", "general"]);
    expect(result.summary.map((r) => r.strategy)).toEqual(result.runs.map((r) => r.strategy));
    for (const run of result.runs) {
      expect(run.events.filter((e) => e.type === "step")).toHaveLength(3);
      expect(run.history.at(-1)!.losses["general"]).toBeGreaterThan(0);
    }
    expect(data.reports["domain.train"]!.records).toBe(18);
    base.dispose();
  });

  it("rejects prepared batches of another size than the experiment's", async () => {
    const domain = await loadDataset(join(dir, "qa.jsonl"));
    const data = userForgettingData({ tokenizer, domain, retain: {}, maxLength: 24, batchSize: 4 });
    seed(0);
    const base = gpt2(new GPT2Config({ vocabSize: 256, nPositions: 32, nEmbd: 16, nLayer: 1, nHead: 2 }));
    await expect(runForgettingExperiment({ base, ...data, strategies: [strategies.fullNaive()], steps: 1, batchSize: 2 })).rejects.toThrow(
      /domain\.train makes batches of 4 rows but batchSize is 2/,
    );
    base.dispose();
  });
});
