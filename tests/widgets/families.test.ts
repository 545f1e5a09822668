/**
 * The widgets on the LLaMA family and BART: the LoraConfigurator lists each family's own target
 * modules and counts what applying its plan trains; the RankInspector lists their LoRA layers.
 */
import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as lab from "lora-lab";
import { installFakeComms, type FakeCommManager } from "./fake_comms.js";

const W = await import("lora-lab/widgets");

let fake: FakeCommManager;
beforeAll(async () => {
  await lab.ready({ backend: "wasm" });
});
beforeEach(() => {
  fake = installFakeComms();
});

const tinyLlama = () => {
  lab.seed(0);
  return lab.llama("tiny");
};
const tinyBart = () => {
  lab.seed(0);
  return lab.bart(lab.BartConfig.preset("tiny"));
};

/** Trainable and all parameters of the model `plan` makes of a fresh copy, as PEFT counts them. */
function applied(make: () => lab.Module, plan: lab.LayerPlan): [number, number] {
  const model = lab.applyPlan(make() as never, plan).model;
  const params = [...model.namedParameters().values()];
  const out: [number, number] = [
    params.filter((p) => p.requiresGrad).reduce((s, p) => s + p.size, 0),
    params.reduce((s, p) => s + p.size, 0),
  ];
  model.dispose();
  return out;
}

describe("LoraConfigurator on a LLaMA", () => {
  it("lists q/k/v/o_proj and gate/up/down_proj, starts from the article's q_proj, v_proj plan and counts what applying it trains", () => {
    const w = new W.LoraConfigurator(tinyLlama());
    expect(w.get("available_modules")).toEqual(["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"]);
    expect(w.get("target_modules")).toEqual(["q_proj", "v_proj"]);
    expect(w.value.groups.map((g) => [g.name, g.role, g.layers])).toEqual([
      ["lower", "frozen", [0, 1]],
      ["middle", "lora", [2]],
      ["upper", "lora", [3]],
    ]);
    expect([w.get("trainable_params"), w.get("total_params")]).toEqual(applied(tinyLlama, w.value));
    // The view picks every projection of the MLP too.
    fake.fromFrontend(w.modelId, { method: "update", state: { target_modules: w.get<string[]>("available_modules") }, buffer_paths: [] });
    expect(w.loraConfig?.targetModules).toBeDefined();
    expect([w.get("trainable_params"), w.get("total_params")]).toEqual(applied(tinyLlama, w.value));
    const c = lab.LlamaConfig.preset("tiny");
    const kv = c.numKeyValueHeads * c.headDim;
    // Layer 2 at r 8 and layer 3 at r 16, every projection: r (in + out) each; plus the tied head's copy.
    const perRank = (r: number) =>
      r * (2 * (c.hiddenSize + c.hiddenSize) + 2 * (c.hiddenSize + kv) + 3 * (c.hiddenSize + c.intermediateSize));
    expect(w.get("trainable_params")).toBe(perRank(8) + perRank(16) + c.vocabSize * c.hiddenSize);
  });
});

describe("LoraConfigurator on BART", () => {
  it("lists q/k/v/out_proj and fc1/fc2, and counts what applying the encoder-decoder plan trains", () => {
    const model = tinyBart();
    const plan = lab.encoderDecoderPlan(model as never);
    const w = new W.LoraConfigurator(model as never, { plan });
    // In the order BART registers them (transformers' BartAttention: k_proj, v_proj, q_proj, out_proj).
    expect(w.get("available_modules")).toEqual(["k_proj", "v_proj", "q_proj", "out_proj", "fc1", "fc2"]);
    expect([w.get("trainable_params"), w.get("total_params")]).toEqual(applied(tinyBart, w.value));
    // The plan's groups keep their own attention: decoder self_attn, encoder_attn; the view lists bare names.
    expect(w.get("target_modules")).toEqual(["q_proj", "v_proj"]);
    const before = w.get<number>("trainable_params");
    fake.fromFrontend(w.modelId, { method: "update", state: { target_modules: ["q_proj", "k_proj", "v_proj"] }, buffer_paths: [] });
    expect(w.value.groups.filter((g) => g.role === "lora").map((g) => g.targetModules)).toEqual([
      ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj"],
      ["encoder_attn.q_proj", "encoder_attn.k_proj", "encoder_attn.v_proj"],
    ]);
    expect([w.get("trainable_params"), w.get("total_params")]).toEqual(applied(tinyBart, w.value));
    // k_proj adds r (d + d) per attention: decoder self- and cross-attention of every decoder layer.
    const c = lab.BartConfig.preset("tiny");
    expect(w.get<number>("trainable_params") - before).toBe(2 * c.decoderLayers * 8 * (2 * c.dModel));
  });
});

describe("RankInspector on LLaMA and BART LoRA models", () => {
  it("lists every adapted projection by its family's name and sends the picked one's spectrum", () => {
    for (const [make, count] of [
      [tinyLlama, 2 * lab.LlamaConfig.preset("tiny").numHiddenLayers],
      [tinyBart, 2 * (lab.BartConfig.preset("tiny").encoderLayers + 2 * lab.BartConfig.preset("tiny").decoderLayers)],
    ] as const) {
      const peft = lab.getPeftModel(make() as never, new lab.LoraConfig({ r: 4, loraAlpha: 8, targetModules: ["q_proj", "v_proj"] }));
      for (const [name, p] of peft.namedParameters())
        if (name.includes("lora_B")) p.variable.assign(lab.tf.randomNormal(p.variable.shape, 0, 0.02, "float32", 1));
      const w = new W.RankInspector(peft as never);
      const layers = w.get<string[]>("layers");
      expect(layers).toHaveLength(count);
      expect(layers.every((l) => /\.layers\.\d+\.(self_attn|encoder_attn)\.(q_proj|v_proj)$/.test(l))).toBe(true);
      fake.fromFrontend(w.modelId, { method: "update", state: { layer: layers.at(-1) }, buffer_paths: [] });
      expect(w.value.module).toBe(layers.at(-1));
      expect(w.value.rank).toBe(4);
      expect(w.value.singularValues.filter((v) => v > 1e-6)).toHaveLength(4);
      peft.dispose();
    }
  });
});

describe("TrainingDashboard on a LLaMA LoRA model", () => {
  it("draws one gradient-norm row per adapted projection, by its LLaMA name", async () => {
    lab.seed(0);
    const config = new lab.LlamaConfig({
      vocabSize: 32,
      hiddenSize: 16,
      intermediateSize: 32,
      numHiddenLayers: 2,
      numAttentionHeads: 2,
      numKeyValueHeads: 1,
      bosTokenId: null,
      eosTokenId: null,
    });
    const peft = lab.getPeftModel(lab.llama(config), new lab.LoraConfig({ r: 2, targetModules: ["q_proj", "v_proj"] }));
    const inputIds = Int32Array.from({ length: 16 }, (_, i) => (i * 7) % 32);
    const targets = Int32Array.from({ length: 16 }, (_, i) => (i * 7 + 1) % 32);
    const d = new W.TrainingDashboard({ throttleMs: 0 });
    const seen: string[][] = [];
    await d.train(peft as never, {
      data: [{ inputIds, targets, shape: [2, 8] }],
      steps: 2,
      lr: 1e-2,
      onEvent: (e) => {
        if (e.type === "step") seen.push(Object.keys(e.gradNorms));
      },
    });
    // Each step's norms are per LoRA module of q_proj / v_proj, in both layers; the heatmap has a row for each.
    const modules = seen.at(-1)!;
    expect(modules.length).toBeGreaterThan(0);
    for (const layer of [0, 1])
      for (const proj of ["q_proj", "v_proj"]) expect(modules.some((m) => m.includes(`layers.${layer}.self_attn.${proj}`))).toBe(true);
    expect(modules.every((m) => /self_attn\.(q|v)_proj/.test(m))).toBe(true);
    const grad = d.get<{ data: { type: string; y: unknown }[] }>("figure_grad");
    expect(grad.data[0].type).toBe("heatmap");
    peft.dispose();
  });
});
