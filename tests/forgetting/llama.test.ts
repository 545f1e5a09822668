/**
 * The forgetting lab on the LLaMA family: every strategy prepares, trains and is measured on a tiny
 * LLaMA (grouped-query attention) as on GPT-2, with the family's own module names.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { layerIndexOf } from "../../src/nn/index.js";
import { llama, LlamaConfig, type LlamaForCausalLM } from "../../src/models/index.js";
import {
  copyBase,
  forgettingStudy,
  runForgettingExperiment,
  STRATEGY_KEYS,
  strategies,
  strategiesFromKeys,
} from "../../src/forgetting/index.js";
import { evaluateLoss } from "../../src/train/index.js";
import { toBatches, windows } from "./helpers.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

const [C, NH, NKV, I, L] = [32, 4, 2, 64, 4];
const KV = (C / NH) * NKV; // the width of k_proj / v_proj outputs
const config = () =>
  new LlamaConfig({
    vocabSize: 64,
    hiddenSize: C,
    intermediateSize: I,
    numHiddenLayers: L,
    numAttentionHeads: NH,
    numKeyValueHeads: NKV,
    maxPositionEmbeddings: 16,
    tieWordEmbeddings: true,
    bosTokenId: null,
    eosTokenId: null,
  });
const base = (s = 0): LlamaForCausalLM => {
  seed(s);
  return llama(config());
};

const T = 8;
const B = 4;
const domain = { train: windows(32, T, 3, 7), eval: toBatches(windows(8, T, 5, 7), B) };
const retain = { old: toBatches(windows(8, T, 9), B) };
const general = windows(32, T, 11);

/** Parameters of one decoder layer: q, k, v, o, gate, up, down and two RMSNorms. */
const layerParams = 2 * C * C + 2 * C * KV + 3 * C * I + 2 * C;
const lora = (r: number, inF: number, outF: number) => r * (inF + outF);

describe("runForgettingExperiment on a LLaMA", () => {
  it("copies the base of its own family", () => {
    const b = base();
    const copy = copyBase(b);
    expect(copy.constructor).toBe(b.constructor);
    const w = b.stateDict();
    for (const [k, v] of Object.entries(copy.stateDict())) expect(v.dataSync()).toEqual(w[k]!.dataSync());
    b.dispose();
    copy.dispose();
  });

  it("runs every strategy with the family's module names: LoRA on q_proj, v_proj, the article's plan, freezing, QLoRA, bottleneck, prefix", async () => {
    const b = base();
    const keys = Object.keys(STRATEGY_KEYS);
    const trainable = new Map<string, string[]>();
    const result = await runForgettingExperiment({
      base: b,
      domain,
      retain,
      general,
      strategies: strategiesFromKeys(keys, { lr: 1e-2 }),
      steps: 2,
      batchSize: B,
      evalEvery: 2,
      onModel: (name, model) => {
        trainable.set(
          name,
          [...model.namedParameters()].filter(([, p]) => p.requiresGrad).map(([n]) => n),
        );
      },
    });
    expect(result.baseline.domain).toBeCloseTo(await evaluateLoss(b, domain.eval), 6);
    const run = (prefix: string) => result.runs.find((r) => r.strategy.startsWith(prefix))!;
    expect(result.runs.map((r) => r.aborted)).toEqual(keys.map(() => false));
    // Every strategy trained something: the domain loss moved from its step-0 value.
    for (const r of result.runs) {
      const [first, last] = [r.history[0]!, r.history.at(-1)!];
      expect(Number.isFinite(last.losses.domain), r.strategy).toBe(true);
      expect(last.losses.domain, r.strategy).not.toBe(first.losses.domain);
    }

    // LoRA Q,V: q_proj and v_proj of every layer, B = 0 at the start (step 0 is the base), the base back with the adapter off.
    const qv = run("LoRA Q,V");
    const qvModules = Array.from({ length: L }, (_, i) =>
      [`self_attn.q_proj`, `self_attn.v_proj`].map((m) => `model.layers.${i}.${m}`),
    ).flat();
    expect(qv.ranks!.map((r) => r.module.replace(/^.*?(model\.layers\.)/, "$1"))).toEqual(qvModules);
    expect(qv.ranks!.every((r) => r.rank === 8 && r.singularValues[0]! > 0)).toBe(true);
    expect(qv.trainableParams).toBe(L * (lora(8, C, C) + lora(8, C, KV)));
    expect(qv.history[0]!.losses.domain).toBeCloseTo(result.baseline.domain, 5);
    expect(qv.adapterDisabledLosses!.old).toBeCloseTo(result.baseline.old, 5);

    // The article's plan: layers 0-1 frozen, q_proj / v_proj LoRA r 8 on layer 2 and r 16 on layer 3, the head trainable.
    const article = run("article plan");
    expect(article.ranks!.map((r) => [layerIndexOf(r.module), r.module.split(".").at(-1), r.rank])).toEqual([
      [2, "q_proj", 8],
      [2, "v_proj", 8],
      [3, "q_proj", 16],
      [3, "v_proj", 16],
    ]);
    const head = 64 * C; // the tied head's trainable copy (modules_to_save)
    expect(article.trainableParams).toBe(lora(8, C, C) + lora(8, C, KV) + lora(16, C, C) + lora(16, C, KV) + head);

    // Freeze lower half: layers 2-3 and the final norm (model.norm) train in place.
    const frozen = trainable.get(run("freeze lower").strategy)!;
    expect(frozen).toContain("model.norm.weight");
    expect(frozen.filter((n) => n !== "model.norm.weight").every((n) => (layerIndexOf(n) ?? -1) >= 2)).toBe(true);
    expect(run("freeze lower").trainableParams).toBe(2 * layerParams + C);

    // QLoRA: LoRA on q_proj, k_proj, v_proj over the 4-bit base.
    const q = run("QLoRA");
    expect(new Set(q.ranks!.map((r) => r.module.split(".").at(-1)))).toEqual(new Set(["q_proj", "k_proj", "v_proj"]));
    expect(q.trainableParams).toBe(L * (lora(8, C, C) + 2 * lora(8, C, KV)));

    // Bottleneck adapters after o_proj and down_proj (width 16); prefix tuning, P keys and values per kv head.
    expect(run("bottleneck").trainableParams).toBe(2 * L * (2 * C * 16 + 16 + C));
    expect(trainable.get(run("bottleneck").strategy)!.every((n) => /\.(o_proj|down_proj)\.adapter\./.test(n))).toBe(true);
    expect(run("prefix").trainableParams).toBe(L * 2 * 8 * KV);
    b.dispose();
  });
});

describe("forgettingStudy on a LLaMA", () => {
  it("measures and fine-tunes a base of the family given as a function", async () => {
    const tiny = () => {
      seed(1);
      return llama("tiny");
    };
    const study = await forgettingStudy({ seed: 0, steps: 2, lr: 1e-2, evalEvery: 2, trainWindows: 16, evalWindows: 8, base: tiny });
    const reference = tiny();
    expect(study.baseline.domain).toBeCloseTo(await evaluateLoss(reference, study.evalSets.domain), 5);
    reference.dispose();
    const model = strategies.loraQV({ r: 4 }).prepare(await study.loadBase()).model;
    const run = await study.finetune("LoRA q_proj, v_proj", model as never);
    const tinyCfg = LlamaConfig.preset("tiny");
    const kv = tinyCfg.numKeyValueHeads * tinyCfg.headDim;
    expect(run.trainable).toBe(
      tinyCfg.numHiddenLayers * (lora(4, tinyCfg.hiddenSize, tinyCfg.hiddenSize) + lora(4, tinyCfg.hiddenSize, kv)),
    );
    expect(run.domainLoss).not.toBe(study.baseline.domain);
    model.dispose();
    // The article's plan: LoRA r 8 / r 16 on q_proj, v_proj of layers 2 / 3, and the head's trainable copy.
    const plan = strategies.articlePlan().prepare(await study.loadBase());
    const planned = await study.finetune("article plan", plan.model as never, { paramGroups: plan.paramGroups });
    const H = tinyCfg.hiddenSize;
    expect(planned.trainable).toBe(lora(8, H, H) + lora(8, H, kv) + lora(16, H, H) + lora(16, H, kv) + tinyCfg.vocabSize * H);
    expect(planned.domainLoss).not.toBe(study.baseline.domain);
    plan.model.dispose();
  });
});
