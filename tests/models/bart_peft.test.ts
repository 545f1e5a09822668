import * as tf from "@tensorflow/tfjs";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { expectNoLeak, ready, seed } from "../../src/engine/index.js";
import { readSafetensors } from "../../src/io/index.js";
import { BartConfig, bart, t5 } from "../../src/models/index.js";
import { LoraConfig, PeftModel, applyPlan, encoderDecoderPlan, getPeftModel, planTable } from "../../src/peft/index.js";
import { estimateMemory } from "../../src/quant/index.js";

const work = mkdtempSync(join(tmpdir(), "lora-lab-bart-peft-"));
const tiny = () => BartConfig.preset("tiny"); // 2 + 2 layers, 64 wide, FFN 128, byte vocabulary

beforeAll(async () => {
  await ready({ backend: "wasm" });
  vi.spyOn(console, "warn").mockImplementation(() => {});
  vi.spyOn(console, "log").mockImplementation(() => {});
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The module names that got adapters, without PEFT's prefix. */
const wrapped = (model: PeftModel) =>
  [...model.baseModel.namedModules().keys()].filter((k) => k.endsWith(".lora_A")).map((k) => k.replace(/\.lora_A$/, ""));
// In module order: transformers registers k_proj, v_proj, q_proj, out_proj.
const qv = (prefix: string, attn: string) => [`${prefix}.${attn}.v_proj`, `${prefix}.${attn}.q_proj`];

describe("the facebook/bart-base shape", () => {
  it("counts transformers' 139,420,416 parameters and prints PEFT's line for r=8 on the default q_proj, v_proj", () => {
    seed(0);
    const base = bart("bart-base");
    // transformers' count for facebook/bart-base (BartForConditionalGeneration, tied lm_head; the
    // final_logits_bias buffer is not a parameter). By hand: shared 50265 * 768 = 38,603,520;
    // positions 2 * 1026 * 768 = 1,575,936; layernorm_embedding 2 * 1536; encoder layer
    // 4 * (768^2 + 768) + (768 * 3072 + 3072) + (3072 * 768 + 768) + 2 * 1536 = 7,087,872, times 6;
    // decoder layer adds cross-attention and its LayerNorm: 9,451,776, times 6. Sum: 139,420,416.
    expect(base.numParameters()).toBe(139_420_416);
    expect(base.lm_head.weight).toBe(base.model.shared.weight);
    expect(base.model.encoder.embed_tokens).toBe(base.model.shared);
    const model = getPeftModel(base, new LoraConfig({ r: 8 })); // PEFT's default targets for bart
    // By hand: q_proj and v_proj of 6 encoder self-attentions, 6 decoder self-attentions and 6
    // cross-attentions, each 8 * (768 + 768): 36 * 12,288 = 442,368.
    expect(model.printTrainableParameters()).toBe("trainable params: 442,368 || all params: 139,862,784 || trainable%: 0.3163");
    model.dispose();
  }, 120_000);

  it("the memory estimator counts the same: 139,420,416 parameters, 442,368 for LoRA r=8 on q_proj, v_proj", () => {
    const lora = estimateMemory({ model: "bart-base", method: "lora", r: 8 });
    expect([lora.parameters - lora.trainableParameters, lora.trainableParameters]).toEqual([139_420_416, 442_368]);
    const fromConfig = estimateMemory({ model: BartConfig.preset("bart-base") as unknown as Record<string, unknown>, method: "full" });
    expect(fromConfig.parameters).toBe(139_420_416);
    // facebook/bart-large, counted without building its 1.6 GB of float32 weights.
    expect(
      estimateMemory({ model: BartConfig.preset("bart-large") as unknown as Record<string, unknown>, method: "full" }).parameters,
    ).toBe(406_291_456);
    // On an untied tiny model with other widths, against the count of the model lora-lab builds.
    const config = BartConfig.preset("tiny", { tieWordEmbeddings: false, decoderLayers: 3, decoderFfnDim: 96 });
    const built = bart(config);
    expect(estimateMemory({ model: config as unknown as Record<string, unknown>, method: "full" }).parameters).toBe(built.numParameters());
    built.dispose();
  });
});

describe("LoRA on the tiny BART", () => {
  it("default targets are q_proj and v_proj of every self- and cross-attention; layersToTransform picks the layer in both stacks", () => {
    seed(1);
    const byDefault = getPeftModel(bart(tiny()), new LoraConfig({ r: 4 }));
    const expected = [0, 1].flatMap((i) => qv(`model.encoder.layers.${i}`, "self_attn"));
    for (const i of [0, 1])
      expected.push(...qv(`model.decoder.layers.${i}`, "self_attn"), ...qv(`model.decoder.layers.${i}`, "encoder_attn"));
    expect(wrapped(byDefault)).toEqual(expected);
    const layer1 = getPeftModel(byDefault.unload(), new LoraConfig({ r: 4, layersToTransform: [1] }));
    expect(wrapped(layer1)).toEqual([
      ...qv("model.encoder.layers.1", "self_attn"),
      ...qv("model.decoder.layers.1", "self_attn"),
      ...qv("model.decoder.layers.1", "encoder_attn"),
    ]);
    const all = getPeftModel(layer1.unload(), new LoraConfig({ r: 4, targetModules: "all-linear" }));
    const names = wrapped(all);
    expect(names.filter((n) => n.startsWith("model.decoder.layers.0."))).toEqual(
      ["self_attn.k_proj", "self_attn.v_proj", "self_attn.q_proj", "self_attn.out_proj"]
        .concat(["encoder_attn.k_proj", "encoder_attn.v_proj", "encoder_attn.q_proj", "encoder_attn.out_proj", "fc1", "fc2"])
        .map((n) => `model.decoder.layers.0.${n}`),
    );
    expect(names).toHaveLength(2 * 6 + 2 * 10);
    expect(names).not.toContain("lm_head");
    all.dispose();
  });

  it("the article's encoder-decoder priority: decoder self-attention, then cross-attention, then (optionally) the encoder, as on T5", () => {
    seed(2);
    const base = bart(tiny());
    const plan = encoderDecoderPlan(base, { r: 4 });
    expect(plan.groups.map((g) => [g.name, g.role])).toEqual([
      ["decoder self-attention", "lora"],
      ["cross-attention", "lora"],
      ["encoder", "frozen"],
    ]);
    const applied = applyPlan(base, plan);
    const model = applied.model as PeftModel;
    expect(wrapped(model)).toEqual(
      [0, 1].flatMap((i) => [...qv(`model.decoder.layers.${i}`, "self_attn"), ...qv(`model.decoder.layers.${i}`, "encoder_attn")]),
    );
    // By hand: 8 adapted 64 -> 64 projections at r 4: 8 * 4 * (64 + 64).
    const rows = planTable(applied.model, plan);
    expect(rows.filter((r) => r.role === "lora").reduce((s, r) => s + r.trainableParams, 0)).toBe(8 * 4 * 128);
    expect(model.numParameters({ trainableOnly: true })).toBe(8 * 4 * 128);
    model.dispose();

    const other = bart(tiny());
    const m2 = applyPlan(other, encoderDecoderPlan(other, { r: 4, includeEncoder: true, includeCrossAttention: false })).model as PeftModel;
    expect(wrapped(m2)).toEqual(
      ["encoder", "decoder"].flatMap((stack) => [0, 1].flatMap((i) => qv(`model.${stack}.layers.${i}`, "self_attn"))),
    );
    m2.dispose();
    // The same table gives T5 its names.
    const t5Plan = encoderDecoderPlan(t5("tiny"), { r: 4 });
    expect(t5Plan.groups.map((g) => [g.within, g.targetModules])).toEqual([
      ["decoder.", ["SelfAttention.q", "SelfAttention.v"]],
      ["decoder.", ["EncDecAttention.q", "EncDecAttention.v"]],
      ["encoder.", undefined],
    ]);
  });

  it("names the families it knows for a model that is not encoder-decoder", () => {
    const decoderOnly = { config: { modelType: "llama" }, namedModules: () => new Map() } as never;
    expect(() => encoderDecoderPlan(decoderOnly)).toThrow(
      /model_type "llama" is not an encoder-decoder family lora-lab knows; known: t5, bart/,
    );
  });

  it("adapters save under PEFT's file and key names and round-trip through lora-lab's own loader onto a fresh base to the same logits", async () => {
    seed(3);
    const model = getPeftModel(bart(tiny()), new LoraConfig({ r: 4, initLoraWeights: "gaussian", taskType: "SEQ_2_SEQ_LM" }));
    const dir = join(work, "adapter");
    await model.savePretrained(dir);
    const cfg = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8"));
    expect(cfg).toMatchObject({ peft_type: "LORA", r: 4, task_type: "SEQ_2_SEQ_LM" });
    const keys = Object.keys((await readSafetensors(join(dir, "adapter_model.safetensors"))).tensors);
    expect(keys).toContain("base_model.model.model.encoder.layers.0.self_attn.q_proj.lora_A.weight");
    expect(keys).toContain("base_model.model.model.decoder.layers.1.encoder_attn.v_proj.lora_B.weight");
    expect(keys).toHaveLength(12 * 2);
    seed(3);
    const again = await PeftModel.fromPretrained(bart(tiny()), dir);
    const src = [[10, 20, 30, 40]];
    const dec = [[2, 0, 50]];
    model.eval();
    expect(again.forward(src, dec).dataSync()).toEqual(model.forward(src, dec).dataSync());
    model.dispose();
    again.dispose();
  });

  it("LoRA training lowers the loss, changes only the adapters (not the base, not final_logits_bias), without leaks", async () => {
    seed(4);
    const base = bart(tiny());
    const model = getPeftModel(base, new LoraConfig({ r: 4, loraAlpha: 8 }));
    const src = tf.tensor2d(
      [
        [10, 20, 30, 40, 50, 1],
        [60, 70, 80, 90, 1, 1],
      ],
      undefined,
      "int32",
    );
    const mask = tf.tensor2d(
      [
        [1, 1, 1, 1, 1, 0],
        [1, 1, 1, 1, 0, 0],
      ],
      undefined,
      "int32",
    );
    const labels = tf.tensor2d(
      [
        [40, 30, 20, 10, 2],
        [90, 80, 70, 2, -100],
      ],
      undefined,
      "int32",
    );
    const frozen = base.model.encoder.layers.at(0).fc1.weight.variable.clone();
    const lossOf = () => model.loss(src, labels, { attentionMask: mask }) as tf.Scalar;
    const first = lossOf();
    const start = first.dataSync()[0];
    first.dispose();
    const opt = tf.train.adam(1e-2);
    opt.minimize(lossOf, false, model.trainableVariables());
    await expectNoLeak(() => {
      for (let i = 0; i < 29; i++) opt.minimize(lossOf, false, model.trainableVariables());
    });
    const last = lossOf();
    expect(last.dataSync()[0]).toBeLessThan(start - 0.5);
    expect(base.model.encoder.layers.at(0).fc1.weight.variable.equal(frozen).all().dataSync()[0]).toBe(1);
    expect(Math.max(...base.finalLogitsBias.dataSync().map(Math.abs))).toBe(0);
    tf.dispose([last, src, mask, labels, frozen]);
    opt.dispose();
    model.dispose();
  });
});
