import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ready } from "../../src/engine/index.js";
import { pretrainEvalSet, runPretrain } from "../../src/cli/pretrain.js";
import { pretrainTokenizerOption } from "../../src/cli/pretrain_command.js";
import { BROWN_GENRES, brownDocuments } from "../../src/data/index.js";
import { FICTION_GENRES, generalSplit, PRESS_GENRES } from "../../src/forgetting/index.js";
import { fromPretrained, gpt2, GPT2Config, loadBase, shippedCheckpointDir } from "../../src/models/index.js";
import { HFTokenizer, loadTokenizer } from "../../src/tokenizers/index.js";
import { evaluateLoss } from "../../src/train/index.js";

interface TrainingArgs {
  command: string;
  seed: number;
  max_steps: number;
  window_length: number;
  data: { held_out_documents: string[]; excluded_genres: string[] };
  eval: { windows: number; batch_size: number };
  validation_loss: number;
  unigram_validation_loss: number;
  train_wall_seconds: number;
}

const readArgs = (dir: string) => JSON.parse(readFileSync(join(dir, "training_args.json"), "utf8")) as TrainingArgs;

/** Unigram cross-entropy computed here from the raw documents' UTF-8 bytes (add-one smoothing). */
function unigramReference(trainTexts: string[], evalTargets: Int32Array[]): number {
  const counts = new Float64Array(256).fill(1);
  const enc = new TextEncoder();
  for (const text of trainTexts) for (const b of enc.encode(text)) counts[b]++;
  const total = counts.reduce((a, b) => a + b, 0);
  let nll = 0;
  let n = 0;
  for (const targets of evalTargets) for (const t of targets) ((nll -= Math.log(counts[t] / total)), n++);
  return nll / n;
}

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

describe("the shipped tiny checkpoint", () => {
  it("loadBase('tiny') reproduces its recorded validation loss on the recorded eval set and beats the unigram baseline", async () => {
    const dir = shippedCheckpointDir("tiny");
    const args = readArgs(dir);
    expect(args.command).toMatch(/^npm run pretrain -- /);
    expect((await loadTokenizer(dir)).vocabSize).toBe(256);
    const model = await loadBase("tiny");
    const evalSet = pretrainEvalSet(args.window_length, args.eval.windows, args.eval.batch_size);
    expect(evalSet.length * args.eval.batch_size).toBe(args.eval.windows);
    const loss = await evaluateLoss(model, evalSet);
    model.dispose();
    expect(Math.abs(loss - args.validation_loss)).toBeLessThan(1e-4);

    // The held-out documents are the shared split's; genre J appears nowhere in pretraining.
    const heldOut = generalSplit().heldOut.map((d) => d.id);
    expect(args.data.held_out_documents).toEqual(heldOut);
    expect(args.data.excluded_genres).toEqual(["j"]);
    const generalDocs = brownDocuments(Object.keys(BROWN_GENRES).filter((g) => g !== "j"));
    expect(generalDocs.some((d) => d.id.startsWith("cj"))).toBe(false);
    // The demo's retained sets come only from held-out documents.
    for (const d of [...generalSplit(PRESS_GENRES).heldOut, ...generalSplit(FICTION_GENRES).heldOut]) expect(heldOut).toContain(d.id);

    const unigram = unigramReference(
      generalDocs.filter((d) => !heldOut.includes(d.id)).map((d) => d.text),
      evalSet.map((b) => b.targets),
    );
    expect(args.unigram_validation_loss).toBeCloseTo(unigram, 2);
    expect(loss).toBeLessThan(unigram - 0.5);
  }, 120_000);
});

describe("the shipped 12-layer teaching base", () => {
  it("loadBase('teach-12l'): 12 GPT-2 blocks over its own 4096-token BPE, reproducing its recorded validation loss", async () => {
    const dir = shippedCheckpointDir("teach-12l");
    const args = readArgs(dir);
    expect(args.command).toMatch(/^npm run pretrain -- --size teach-12l /);
    const tokenizer = await loadTokenizer(dir);
    expect(tokenizer.vocabSize).toBe(4096);
    const text = "The committee met on Tuesday to discuss the new budget.";
    expect(tokenizer.decode(tokenizer.encode(text))).toBe(text);
    // BPE: fewer tokens than bytes (Brown's text comes to about 3.5 bytes a token).
    expect(tokenizer.encode(text).length).toBeLessThan(text.length / 2.5);
    const model = await loadBase("teach-12l");
    expect(model.config).toMatchObject({ nLayer: 12, nEmbd: 192, vocabSize: 4096, nPositions: 128 });
    expect(model.numParameters()).toBe(6_149_760);
    const evalSet = pretrainEvalSet(args.window_length, args.eval.windows, args.eval.batch_size, tokenizer);
    const loss = await evaluateLoss(model, evalSet);
    model.dispose();
    expect(Math.abs(loss - args.validation_loss)).toBeLessThan(1e-4);
    expect(args.data.held_out_documents).toEqual(generalSplit().heldOut.map((d) => d.id));
    // Well under the unigram model of its training text (recorded by the run): 4.72 against 6.71.
    expect(loss).toBeLessThan(args.unigram_validation_loss - 1.5);
  }, 180_000);
});

describe("runPretrain", () => {
  it("writes a checkpoint whose recorded validation loss fromPretrained reproduces", async () => {
    const out = mkdtempSync(join(tmpdir(), "lora-lab-pretrain-"));
    const lines: string[] = [];
    const result = await runPretrain({
      size: "tiny",
      steps: 2,
      seed: 3,
      batchSize: 4,
      lr: 1e-3,
      warmupRatio: 0.5,
      weightDecay: 0.01,
      evalWindows: 16,
      evalBatchSize: 8,
      evalEvery: 1,
      outDir: out,
      command: "npm run pretrain -- --steps 2",
      progress: false,
      log: (l) => lines.push(l),
    });
    const args = readArgs(out);
    expect(args.seed).toBe(3);
    expect(args.max_steps).toBe(2);
    expect(args.validation_loss).toBe(result.validationLoss);
    expect(readFileSync(join(out, "PRETRAIN.md"), "utf8")).toContain(result.validationLoss.toFixed(4));
    const model = await fromPretrained(out);
    expect(Math.abs((await evaluateLoss(model, pretrainEvalSet(64, 16, 8))) - args.validation_loss)).toBeLessThan(1e-6);
    model.dispose();
    expect(lines.join("\n")).toMatch(/validation loss after 2 steps/);
    rmSync(out, { recursive: true, force: true });
  }, 120_000);
});

describe("runPretrain with the 12-layer BPE teaching base", () => {
  it("trains a BPE on the training documents and writes a Hugging Face folder that reloads to the recorded loss", async () => {
    const out = mkdtempSync(join(tmpdir(), "lora-lab-pretrain-12l-"));
    const lines: string[] = [];
    const result = await runPretrain({
      size: "teach-12l",
      tokenizer: { kind: "bpe", vocabSize: 1024, minFrequency: 2 },
      steps: 1,
      seed: 1,
      batchSize: 2,
      lr: 1e-3,
      warmupRatio: 0,
      weightDecay: 0.01,
      evalWindows: 8,
      evalBatchSize: 4,
      evalEvery: 1,
      outDir: out,
      command: "npm run pretrain -- --size teach-12l --steps 1",
      progress: false,
      log: (l) => lines.push(l),
    });
    expect(readdirSync(out).sort()).toEqual(
      [
        "PRETRAIN.md",
        "config.json",
        "generation_config.json",
        "model.safetensors",
        "tokenizer.json",
        "tokenizer_config.json",
        "training_args.json",
      ].sort(),
    );
    const config = JSON.parse(readFileSync(join(out, "config.json"), "utf8"));
    const tokenizer = await loadTokenizer(out);
    // The embedding table and bos/eos follow the trained tokenizer; <|endoftext|> is its last id.
    expect(tokenizer).toBeInstanceOf(HFTokenizer);
    expect(config).toMatchObject({ model_type: "gpt2", n_layer: 12, n_embd: 192, n_head: 3, n_positions: 128, vocab_size: 1024 });
    expect([config.bos_token_id, config.eos_token_id, tokenizer.eosTokenId]).toEqual([1023, 1023, 1023]);
    expect(readArgs(out)).toMatchObject({ tokenizer: { kind: "bpe", vocab_size: 1024, trained_on: "the training documents" } });

    // Reloaded from the folder alone: the recorded validation set and loss come back.
    const model = await fromPretrained(out);
    const evalSet = pretrainEvalSet(128, 8, 4, tokenizer);
    expect(Math.abs((await evaluateLoss(model, evalSet)) - result.validationLoss)).toBeLessThan(1e-5);
    // GPT-2's parameter count, by hand: 12 blocks of (4 d^2 + 4 d attention, 8 d^2 + 5 d MLP, 4 d layer norms), embeddings, final norm.
    const d = 192;
    expect(model.numParameters()).toBe(12 * (12 * d * d + 13 * d) + 1024 * d + 128 * d + 2 * d);
    model.dispose();
    expect(lines.join("\n")).toMatch(/trained a byte-level BPE on the training documents: 767 merges, 1024 tokens/);
    expect(lines.join("\n")).toMatch(/validation loss after 1 steps: [\d.]+ nats\/token/);
    rmSync(out, { recursive: true, force: true });
  }, 300_000);

  it("the teach-12l preset is 12 GPT-2 blocks of width 192 over a 4096-token vocabulary: 6,149,760 parameters", () => {
    const c = GPT2Config.preset("teach-12l");
    const d = c.nEmbd;
    expect(c).toMatchObject({ nLayer: 12, nEmbd: 192, nHead: 3, nPositions: 128, vocabSize: 4096, eosTokenId: 4095 });
    // GPT-2's count by hand (blocks, token and position embeddings, ln_f; tied head) and the built model's own count.
    expect(12 * (12 * d * d + 13 * d) + c.vocabSize * d + c.nPositions * d + 2 * d).toBe(6_149_760);
    const model = gpt2(c);
    expect(model.numParameters()).toBe(6_149_760);
    model.dispose();
  });
});

describe("pretrain's --tokenizer and --vocab-size", () => {
  it.each([
    ["tiny", undefined, undefined, { kind: "byte" }],
    ["teach-12l", undefined, undefined, { kind: "bpe", vocabSize: 4096, minFrequency: 2 }],
    ["teach-12l", "bpe", 8192, { kind: "bpe", vocabSize: 8192, minFrequency: 2 }],
    ["tiny", "bpe", undefined, { kind: "bpe", vocabSize: 4096, minFrequency: 2 }],
    ["teach-12l", "checkpoints/x", undefined, { kind: "load", dir: "checkpoints/x" }],
    ["teach-12l", "byte", undefined, { kind: "byte" }],
  ] as const)("--size %s --tokenizer %s --vocab-size %s", (size, tokenizer, vocab, expected) => {
    expect(pretrainTokenizerOption(size, tokenizer, vocab)).toEqual(expected);
  });

  it("rejects --vocab-size without a BPE, naming both options", () => {
    expect(() => pretrainTokenizerOption("tiny", undefined, 4096)).toThrow(/--vocab-size .* needs --tokenizer bpe, got --tokenizer byte/);
  });
});
