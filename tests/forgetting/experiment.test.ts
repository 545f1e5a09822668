import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ready } from "../../src/engine/index.js";
import { batchStream } from "../../src/data/index.js";
import { runForgettingExperiment, strategies, strategiesFromKeys, summaryTable, type StrategyModel } from "../../src/forgetting/index.js";
import { evaluateLoss, type EvalEvent, type StepEvent } from "../../src/train/index.js";
import { tinyModel, toBatches, weightsOf, windows } from "./helpers.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

const T = 8;
const B = 4;
const d = 16;
// The new domain: a short-period sequence; the retained set: the base's own (full-period) text.
const domainTrain = windows(64, T, 3, 7);
const domain = { train: domainTrain, eval: toBatches(windows(8, T, 5, 7), B) };
const retain = { old: toBatches(windows(8, T, 9), B) };

/** Block parameters of one GPT-2 layer: ln_1, c_attn, c_proj, ln_2, c_fc, mlp.c_proj (12 d^2 + 13 d). */
const blockParams = (n: number) => 12 * n * n + 13 * n;

describe("runForgettingExperiment", () => {
  it("trains each strategy from the same base weights on the same batches, leaves the base untouched and summarises its own events", async () => {
    const base = tinyModel(0, d);
    const before = weightsOf(base);
    const firstBatch = batchStream(domainTrain, { batchSize: B, seed: 0 }).next().value;
    const expectedFirstLoss = await evaluateLoss(base, [firstBatch]);
    const trained = new Map<string, Map<string, Float32Array>>();
    const result = await runForgettingExperiment({
      base,
      domain,
      retain,
      strategies: [strategies.fullNaive({ lr: 1e-2 }), strategies.freezeLower({ lr: 1e-2 }), strategies.loraQV({ lr: 1e-2, r: 4 })],
      steps: 4,
      batchSize: B,
      seed: 0,
      evalEvery: 2,
      onModel: (name, model: StrategyModel) => {
        trained.set(name, new Map([...model.namedParameters()].map(([n, p]) => [n, p.variable.dataSync().slice() as Float32Array])));
      },
    });

    // Base untouched, bit for bit.
    for (const [name, w] of weightsOf(base)) expect(w).toEqual(before.get(name));
    // Baselines are the base's own losses.
    expect(result.baseline.domain).toBeCloseTo(await evaluateLoss(base, domain.eval), 6);
    expect(result.baseline.old).toBeCloseTo(await evaluateLoss(base, retain.old), 6);

    // Same data and same starting function: the first batch's loss is the base's loss on batchStream's first batch.
    for (const run of result.runs) expect(run.firstLoss).toBeCloseTo(expectedFirstLoss, 5);

    // Freeze-lower: embeddings and block 0 are exactly the base's; block 1 and ln_f moved.
    const frozen = trained.get("freeze lower half")!;
    for (const [name, w] of frozen) {
      const moved = w.some((v, i) => v !== before.get(name)![i]);
      const shouldTrain = name.startsWith("transformer.h.1.") || name.startsWith("transformer.ln_f.");
      if (!shouldTrain) expect(moved, name).toBe(false);
      else if (name.endsWith(".weight") && !name.includes("ln_")) expect(moved, name).toBe(true);
    }
    // LoRA: every base weight unchanged, only lora_ weights trained.
    for (const [name, w] of trained.get("LoRA Q,V r4")!) {
      if (name.includes(".lora_")) continue;
      const baseName = name.replace(/^base_model\.model\./, "").replace(".base_layer.", ".");
      expect(w, name).toEqual(before.get(baseName));
    }

    // Trainable parameter counts, from the architecture's formula.
    const counts = Object.fromEntries(result.runs.map((r) => [r.strategy, r.trainableParams]));
    expect(counts["full, constant LR"]).toBe(base.numParameters());
    expect(counts["freeze lower half"]).toBe(blockParams(d) + 2 * d);
    expect(counts["LoRA Q,V r4"]).toBe(2 * 4 * (d + 2 * d)); // per layer r (C + 2C): A [r, C], B over the Q and V blocks [2C, r]

    for (const [i, run] of result.runs.entries()) {
      const evals = run.events.filter((e): e is EvalEvent => e.type === "eval");
      expect(evals.map((e) => e.step)).toEqual([0, 2, 4]);
      expect(run.events.filter((e): e is StepEvent => e.type === "step").map((e) => e.step)).toEqual([1, 2, 3, 4]);
      // Step 0 is the base itself for these strategies: no forgetting yet.
      expect(run.history[0].forgetting.old).toBeCloseTo(0, 5);
      const last = evals[evals.length - 1];
      const row = result.summary[i];
      expect(row.strategy).toBe(run.strategy);
      expect(row.domainLoss).toBe(last.losses.domain);
      expect(row.domainGain).toBeCloseTo(result.baseline.domain - last.losses.domain, 12);
      expect(row.retained.old).toBe(last.losses.old);
      expect(row.forgetting.old).toBeCloseTo(last.losses.old - result.baseline.old, 12);
      expect(row.backwardTransfer).toBeCloseTo(-(last.losses.old - result.baseline.old), 12);
    }
    // Strategies differ after training: the data are the same, the updates are not.
    expect(result.summary[0].domainLoss).not.toBe(result.summary[2].domainLoss);
    // LoRA's base is untouched: with the adapter off, forgetting is zero.
    expect(result.summary[2].adapterOffForgetting).toBeCloseTo(0, 6);
    expect(summaryTable(result.summary, result.baseline).text).toContain(result.summary[0].domainLoss.toFixed(3));
    base.dispose();
  });

  it("composes mitigations with any strategy: L2-SP at strength 0 and replay fraction 0 train exactly as without them", async () => {
    const base = tinyModel(1, d);
    const general = windows(32, T, 11);
    const result = await runForgettingExperiment({
      base,
      domain,
      retain,
      general,
      strategies: [
        strategies.fullCosine({ lr: 1e-2 }),
        strategies.fullCosine({ lr: 1e-2, l2sp: { strength: 0 }, replay: { fraction: 0 } }),
        strategies.fullCosine({ lr: 1e-2, replay: { fraction: 0.5 } }),
        strategies.loraQV({ lr: 1e-2, ewc: { strength: 10, fisherBatches: 2 } }),
      ],
      steps: 3,
      batchSize: B,
      evalEvery: 3,
      ranks: false,
    });
    const steps = result.runs.map((r) => r.events.filter((e): e is StepEvent => e.type === "step"));
    expect(result.runs[1].strategy).toBe("full, warmup+cosine + replay 0 + L2-SP 0");
    expect(steps[1].map((e) => e.loss)).toEqual(steps[0].map((e) => e.loss));
    expect(steps[1].every((e) => e.regularization === 0)).toBe(true);
    // Half of each batch replaced by general text: the losses differ from the first step on.
    expect(steps[2][0].loss).not.toBe(steps[0][0].loss);
    // EWC reports its penalty; it is zero at step 1 (weights at the anchor) and positive after.
    expect(steps[3][0].regularization).toBe(0);
    expect(steps[3][2].regularization!).toBeGreaterThan(0);
    base.dispose();
  });

  it("strategiesFromKeys builds strategies by key and names the available keys for an unknown one", () => {
    expect(strategiesFromKeys(["naive", "lora", "qlora"]).map((s) => s.name)).toEqual([
      "full, constant LR",
      "LoRA Q,V r8",
      "QLoRA c_attn r8",
    ]);
    expect(() => strategiesFromKeys(["lora", "adapter"])).toThrow(
      /unknown strategy "adapter"; available: naive, cosine, freeze-lower, lora/,
    );
  });

  it("runs QLoRA, bottleneck and prefix strategies and counts their trainable parameters by the adapters' shapes (LoRA A + B, prefix key / value per layer)", async () => {
    const base = tinyModel(2, d);
    const numTensors = tf.memory().numTensors;
    const result = await runForgettingExperiment({
      base,
      domain,
      retain,
      strategies: [strategies.qlora({ r: 4 }), strategies.bottleneck({ bottleneckSize: 4 }), strategies.prefix({ numVirtualTokens: 2 })],
      steps: 2,
      batchSize: B,
      evalEvery: 2,
    });
    const counts = Object.fromEntries(result.runs.map((r) => [r.strategy, r.trainableParams]));
    expect(counts["QLoRA c_attn r4"]).toBe(2 * (4 * d + 3 * d * 4)); // A [r, d] + B [3d, r] per layer
    expect(counts["prefix 2"]).toBe(2 * 2 * 2 * d); // layers x (key, value) x P x d
    // QLoRA starts from the 4-bit base: its step-0 losses differ from the float base's.
    expect(result.runs[0].history[0].losses.old).not.toBe(result.baseline.old);
    for (const row of result.summary) expect(Number.isFinite(row.meanForgetting)).toBe(true);
    expect(tf.memory().numTensors).toBe(numTensors);
    base.dispose();
  });
});

describe("strategiesFromKeys(keys, { lr, adapterLr })", () => {
  it("gives the adapter strategies adapterLr and the strategies that train base weights lr", () => {
    const keys = ["naive", "cosine", "freeze-lower", "lora", "lora-all", "article", "qlora", "bottleneck", "prefix"];
    const made = strategiesFromKeys(keys, { lr: 1e-3, adapterLr: 3e-3 });
    expect(made.map((s) => s.lr)).toEqual([1e-3, 1e-3, 1e-3, 3e-3, 3e-3, 3e-3, 3e-3, 3e-3, 3e-3]);
    expect(strategiesFromKeys(["naive", "lora"], { lr: 2e-4 }).map((s) => s.lr)).toEqual([2e-4, 2e-4]);
  });
});
