import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { ready } from "../../src/engine/index.js";
import { pretrainEvalSet, runPretrain } from "../../src/cli/pretrain.js";
import { BROWN_GENRES, brownDocuments } from "../../src/data/index.js";
import { FICTION_GENRES, generalSplit, PRESS_GENRES } from "../../src/forgetting/index.js";
import { fromPretrained, loadBase, shippedCheckpointDir } from "../../src/models/index.js";
import { loadTokenizer } from "../../src/tokenizers/index.js";
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
