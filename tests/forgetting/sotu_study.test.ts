import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { seed } from "../../src/engine/index.js";
import { brownDocuments, sotuSplit } from "../../src/data/index.js";
import { forgettingData, forgettingStudy, type ForgettingStudy } from "../../src/forgetting/index.js";
import { GPT2Config, gpt2 } from "../../src/models/index.js";
import { saveTokenizer, trainBpeTokenizer, type Tokenizer } from "../../src/tokenizers/index.js";
import type { TokenBatch } from "../../src/train/index.js";

// A byte-level BPE of 384 tokens learned from a few Brown news documents, and a random 2-layer
// GPT-2 over it with a context of 32 tokens; the speeches of 2010-2021 keep the setup to seconds.
const SOTU = { years: { from: 2010, to: 2021 } };
let tokenizer: Tokenizer;
let config: GPT2Config;
let study: ForgettingStudy;
const randomBase = () => {
  seed(5);
  return gpt2(config);
};

beforeAll(async () => {
  const texts = brownDocuments("a")
    .slice(0, 8)
    .map((d) => d.text);
  tokenizer = trainBpeTokenizer(texts, { vocabSize: 384, specialTokens: ["<|endoftext|>"] }).tokenizer();
  config = new GPT2Config({
    vocabSize: tokenizer.vocabSize,
    nPositions: 32,
    nEmbd: 32,
    nLayer: 2,
    nHead: 2,
    residPdrop: 0,
    embdPdrop: 0,
    attnPdrop: 0,
  });
  study = await forgettingStudy({
    seed: 0,
    steps: 2,
    lr: 1e-3,
    evalEvery: 2,
    trainWindows: 16,
    evalWindows: 8,
    base: randomBase,
    tokenizer,
    domain: "sotu",
    sotu: SOTU,
  });
}, 60_000);

/** Every input row of the batches, as text. */
const rowsText = (batches: TokenBatch[], tok: Tokenizer) =>
  batches.flatMap((b) =>
    Array.from({ length: b.shape[0] }, (_, r) => tok.decode([...b.inputIds.subarray(r * b.shape[1], (r + 1) * b.shape[1])])),
  );

describe("forgettingStudy over the State of the Union with a BPE base", () => {
  it("cuts windows of the base's context in BPE tokens, the domain from held-out speeches", () => {
    expect(study.options).toMatchObject({ domain: "sotu", windowLength: 32, tokenizer });
    expect(study.unit).toBe("token");
    expect(study.trainWindows).toHaveLength(16);
    expect(study.trainWindows.every((w) => w.length === 33)).toBe(true);
    const ids = study.trainWindows.flatMap((w) => [...w]);
    expect(Math.max(...ids)).toBeLessThan(tokenizer.vocabSize);
    expect(ids.some((id) => id >= 256)).toBe(true); // merged tokens, not bytes
    // The domain's eval rows are text of the held-out speech(es), the retained rows are not.
    const heldOut = sotuSplit(SOTU).heldOut.map((d) => d.text);
    expect(heldOut.length).toBeGreaterThan(0);
    const inSpeech = (row: string) => heldOut.some((t) => t.includes(row.trim()));
    expect(rowsText(study.evalSets.domain, tokenizer).every(inSpeech)).toBe(true);
    expect(rowsText(study.evalSets.retained, tokenizer).some(inSpeech)).toBe(false);
  });

  it("a random base's loss is about ln(vocabulary) nats per token on every set", () => {
    const uniform = Math.log(tokenizer.vocabSize);
    for (const loss of [study.baseline.domain, study.baseline.retained]) {
      expect(Number.isFinite(loss)).toBe(true);
      expect(Math.abs(loss - uniform)).toBeLessThan(0.3);
    }
  });

  it("fine-tunes 2 steps and prints every loss in nats/token", async () => {
    const model = randomBase();
    const log = vi.spyOn(console, "log").mockImplementation(() => {});
    try {
      const run = await study.finetune("full", model);
      expect(run.events.filter((e) => e.type === "step")).toHaveLength(2);
      expect([run.domainLoss, run.retainedLoss, run.gain, run.forgetting].every(Number.isFinite)).toBe(true);
      study.printSetup();
      study.printSummary([run]);
      const printed = log.mock.calls.map((c) => String(c[0])).join("\n");
      expect(printed).toMatch(/new domain State of the Union addresses; 16 training windows of 32 tokens/);
      expect(printed).toMatch(/retained loss \d\.\d{3} nats\/token/);
      expect(printed).toMatch(/losses in nats\/token; learned/);
      expect(printed).not.toMatch(/byte/);
    } finally {
      log.mockRestore();
      model.dispose();
    }
  }, 60_000);
});

describe("forgettingStudy: the base's folder gives the tokenizer", () => {
  const dir = mkdtempSync(join(tmpdir(), "sotu-base-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("a folder with a tokenizer.json is read with that tokenizer: the same data and losses as passing it", async () => {
    const model = randomBase();
    await model.savePretrained(dir);
    model.dispose();
    await saveTokenizer(tokenizer, dir);
    const fromFolder = await forgettingStudy({
      seed: 0,
      steps: 2,
      lr: 1e-3,
      evalEvery: 2,
      evalWindows: 8,
      base: dir,
      domain: "sotu",
      sotu: SOTU,
    });
    expect(fromFolder.unit).toBe("token");
    expect(fromFolder.options.windowLength).toBe(32);
    expect(fromFolder.evalSets.domain).toEqual(study.evalSets.domain);
    expect(fromFolder.baseline.domain).toBeCloseTo(study.baseline.domain, 5);
    expect(fromFolder.baseline.retained).toBeCloseTo(study.baseline.retained, 5);
  }, 60_000);

  it("a tokenizer larger than the base's vocabulary is refused, naming both sizes", async () => {
    await expect(forgettingStudy({ seed: 0, steps: 1, lr: 1e-3, evalEvery: 1, base: "tiny", tokenizer, domain: "sotu" })).rejects.toThrow(
      /the tokenizer has 384 tokens but the base's vocabulary 256; pass the base's own tokenizer/,
    );
  });
});

describe("forgettingData domains", () => {
  it("rejects an unknown domain and a SOTU filter on Brown J", () => {
    const common = { tokenizer, windowLength: 16, evalWindows: 2, evalBatchSize: 2 };
    expect(() => forgettingData({ ...common, domain: "wiki" as "sotu" })).toThrow(/unknown domain "wiki"; expected brown-j or sotu/);
    expect(() => forgettingData({ ...common, sotu: SOTU })).toThrow(/the sotu filter applies to domain "sotu" only/);
  });
});
