import { beforeAll, describe, expect, it, vi } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { gpt2 } from "../../src/models/index.js";
import { layerIndexOf } from "../../src/nn/index.js";
import { getPeftModel, isExcluded, isTargeted, LoraConfig, patternKey, rankAndAlpha } from "../../src/peft/index.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
  vi.spyOn(console, "warn").mockImplementation(() => {});
});

describe("LoraConfig", () => {
  it("has PEFT's defaults", () => {
    const c = new LoraConfig();
    expect([c.r, c.loraAlpha, c.loraDropout, c.bias, c.fanInFanOut, c.useRslora, c.initLoraWeights, c.useDora, c.taskType]).toEqual([
      8,
      8,
      0,
      "none",
      false,
      false,
      true,
      false,
      undefined,
    ]);
    expect(c.rankPattern).toEqual({});
    expect(c.alphaPattern).toEqual({});
    expect(c.targetModules).toBeUndefined();
  });

  it("writes adapter_config.json with PEFT's keys and value forms", () => {
    const json = new LoraConfig({
      r: 16,
      loraAlpha: 32,
      targetModules: ["c_attn"],
      taskType: "CAUSAL_LM",
      layersToTransform: [9, 10, 11],
    }).toJSON();
    expect(json).toMatchObject({
      peft_type: "LORA",
      r: 16,
      lora_alpha: 32,
      target_modules: ["c_attn"],
      task_type: "CAUSAL_LM",
      layers_to_transform: [9, 10, 11],
      lora_dropout: 0,
      bias: "none",
      fan_in_fan_out: false,
      use_rslora: false,
      init_lora_weights: true,
      rank_pattern: {},
      alpha_pattern: {},
      use_dora: false,
      modules_to_save: null,
      layers_pattern: null,
      exclude_modules: null,
      inference_mode: false,
      base_model_name_or_path: null,
      revision: null,
    });
    expect(Object.keys(json)).toEqual([...Object.keys(json)].sort());
    const back = LoraConfig.fromJSON(json);
    expect(back.toJSON()).toEqual(json);
  });

  it.each([
    [{ r: 0 }, /r must be a positive integer, got 0/],
    [{ r: 2.5 }, /r must be a positive integer/],
    [{ taskType: "CAUSAL" as never }, /taskType must be "SEQ_CLS", "SEQ_2_SEQ_LM", "CAUSAL_LM", .* or undefined, got "CAUSAL"/],
    [{ targetModules: ".*c_attn", layersToTransform: [0] }, /layersToTransform cannot be used when targetModules is a str/],
    [{ targetModules: ["c_attn"], layersPattern: "h" }, /layersPattern is specified, layersToTransform must also be specified/],
    [{ loraDropout: 1 }, /loraDropout must be in \[0, 1\)/],
    [{ bias: "some" as never }, /bias must be "none", "all" or "lora_only"/],
    [{ initLoraWeights: "olora" as never }, /initLoraWeights must be true, false, "gaussian" or "pissa"/],
    [{ targetModules: [] }, /targetModules is an empty list/],
    [{ rankPattern: { q: 0 } }, /rankPattern\["q"\] must be a positive integer/],
    [{ loraAlpah: 16 } as never, /unknown field\(s\) loraAlpah; known: r, loraAlpha/],
  ])("rejects %j", (fields, message) => {
    expect(() => new LoraConfig(fields)).toThrow(message);
  });

  it("refuses adapter_config.json that uses PEFT features lora-lab lacks", () => {
    expect(() => LoraConfig.fromJSON({ peft_type: "LORA", layer_replication: [[0, 2]] })).toThrow(/does not support: layer_replication/);
    expect(() => LoraConfig.fromJSON({ peft_type: "IA3" })).toThrow(/peft_type "IA3", expected "LORA"/);
  });
});

describe("PEFT's module matching", () => {
  const gpt = "transformer.h.9.attn.c_attn";
  const t5 = "encoder.block.3.layer.0.SelfAttention.q";
  it.each([
    [{ targetModules: ["c_attn"] }, gpt, true],
    [{ targetModules: ["attn.c_attn"] }, gpt, true],
    [{ targetModules: ["_attn"] }, gpt, false], // suffix must start at a dot
    [{ targetModules: ["c_proj"] }, "transformer.h.0.mlp.c_proj", true],
    [{ targetModules: ".*attn.c_attn" }, gpt, true],
    [{ targetModules: "c_attn" }, gpt, false], // a string is a regex over the whole name
    [{ targetModules: ["c_attn"], layersToTransform: [9] }, gpt, true],
    [{ targetModules: ["c_attn"], layersToTransform: 8 }, gpt, false],
    [{ targetModules: ["q"], layersToTransform: [3] }, t5, true], // first numbered segment: block 3, not layer 0
    [{ targetModules: ["q"], layersToTransform: [0] }, t5, false],
    [{ targetModules: ["q"], layersToTransform: [0], layersPattern: "layer" }, t5, true],
    [{ targetModules: ["lm_head"], layersToTransform: [0] }, "lm_head", true], // exact names skip the layer filter, as in PEFT
    [{ targetModules: ["c_attn"], layersToTransform: [0] }, "transformer.c_attn", false], // no layer number
  ])("%j matches %s: %s", (rules, key, expected) => {
    expect(isTargeted(rules, key)).toBe(expected);
  });

  it("excludes by list suffix or by regex", () => {
    expect(isExcluded({ targetModules: ["c_proj"], excludeModules: ["mlp.c_proj"] }, "transformer.h.0.mlp.c_proj")).toBe(true);
    expect(isExcluded({ targetModules: ["c_proj"], excludeModules: ["mlp.c_proj"] }, "transformer.h.0.attn.c_proj")).toBe(false);
    expect(isExcluded({ targetModules: ["c_proj"], excludeModules: ".*h\\.0\\..*" }, "transformer.h.0.attn.c_proj")).toBe(true);
  });

  it("finds the layer index as PEFT's regexes do", () => {
    expect(layerIndexOf("transformer.h.11.mlp.c_fc")).toBe(11);
    expect(layerIndexOf("decoder.block.5.layer.1.EncDecAttention.v")).toBe(5);
    expect(layerIndexOf("decoder.block.5.layer.1.EncDecAttention.v", ["layer"])).toBe(1);
    expect(layerIndexOf("lm_head")).toBeUndefined();
  });

  it("takes the first matching rank/alpha pattern key, each dict on its own", () => {
    expect(patternKey({ c_attn: 4, "h.1.attn.c_attn": 2 }, "transformer.h.1.attn.c_attn")).toBe("c_attn");
    expect(patternKey({ "attn.c_attn": 4 }, "transformer.h.1.attn.c_attn")).toBe("attn.c_attn");
    expect(patternKey({ ttn: 4 }, "transformer.h.1.attn.c_attn")).toBeUndefined();
    expect(
      rankAndAlpha({ r: 8, loraAlpha: 16, rankPattern: { "h\\.1\\..*": 2 }, alphaPattern: {} }, "transformer.h.1.attn.c_attn"),
    ).toEqual({ r: 2, alpha: 16 });
  });
});

describe("getPeftModel errors list what exists", () => {
  it("a target that matches nothing", () => {
    seed(1);
    expect(() => getPeftModel(gpt2("tiny"), { targetModules: ["q_proj"] })).toThrow(
      /Target modules \["q_proj"\] not found in the base model \(no module name matches\)\. Module names end with: transformer, wte, wpe, drop, h, ln_1, attn, c_attn/,
    );
  });

  it("layersToTransform beyond the model's depth", () => {
    expect(() => getPeftModel(gpt2("tiny"), { targetModules: ["c_attn"], layersToTransform: [7] })).toThrow(/with layersToTransform \[7\]/);
  });

  it("every match excluded", () => {
    expect(() => getPeftModel(gpt2("tiny"), { targetModules: ["c_attn"], excludeModules: ["c_attn"] })).toThrow(
      /all matching modules were excluded/,
    );
  });

  it("a target of an unsupported type", () => {
    expect(() => getPeftModel(gpt2("tiny"), { targetModules: ["h.0.attn"] })).toThrow(
      /Target module "transformer.h.0.attn" \(GPT2Attention\) is not supported\. Currently, only the following modules are supported: Linear4bit, Embedding, Conv1D, Linear/,
    );
  });

  it("a modulesToSave entry that matches nothing", () => {
    expect(() => getPeftModel(gpt2("tiny"), { targetModules: ["c_attn"], modulesToSave: ["score"] })).toThrow(
      /modulesToSave entry "score" matches no module; modules: transformer, /,
    );
  });

  it("no targetModules and no default for the architecture", () => {
    const m = gpt2("tiny");
    (m as unknown as { config: object }).config = { modelType: "mamba" };
    expect(() => getPeftModel(m, {})).toThrow(
      /Please specify targetModules in the LoraConfig: model_type "mamba" has no default; defaults exist for gpt2, t5/,
    );
  });

  it("an adapter name that does not exist, and a model that already has adapters", () => {
    const m = getPeftModel(gpt2("tiny"), { targetModules: ["c_attn"] });
    expect(() => m.setAdapter("other")).toThrow(/adapter "other" not found; adapters: default/);
    expect(() => m.addAdapter("default", {})).toThrow(/adapter "default" already exists; adapters: default/);
    expect(() => getPeftModel(m, {})).toThrow(/already has adapters; use addAdapter/);
  });

  it("uses the architecture's default targets and all-linear", () => {
    const d = getPeftModel(gpt2("tiny"), {});
    expect([...d.baseModel.namedModules().keys()].filter((k) => k.endsWith("lora_A"))).toEqual(
      [0, 1, 2, 3].map((i) => `transformer.h.${i}.attn.c_attn.lora_A`),
    );
    const all = getPeftModel(gpt2("tiny"), { targetModules: "all-linear" });
    const wrapped = [...all.baseModel.namedModules().keys()].filter((k) => k.endsWith(".lora_A")).map((k) => k.replace(/\.lora_A$/, ""));
    expect(wrapped.filter((k) => k.includes("h.0."))).toEqual([
      "transformer.h.0.attn.c_attn",
      "transformer.h.0.attn.c_proj",
      "transformer.h.0.mlp.c_fc",
      "transformer.h.0.mlp.c_proj",
    ]);
    expect(wrapped).not.toContain("lm_head");
  });
});

describe("PEFT's resolution rules kept in the config", () => {
  it("all-linear becomes the full names of every Linear / Conv1D but lm_head; defaults are written into the config", () => {
    seed(2);
    const all = getPeftModel(gpt2("tiny"), { targetModules: "all-linear" });
    expect(all.peftConfig.default.targetModules).toEqual(
      [0, 1, 2, 3].flatMap((i) => ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"].map((m) => `transformer.h.${i}.${m}`)),
    );
    const d = getPeftModel(gpt2("tiny"), {});
    expect(d.peftConfig.default.targetModules).toEqual(["c_attn"]);
  });

  it("never puts an adapter inside a modulesToSave module", () => {
    expect(isExcluded({ targetModules: ["c_fc"], modulesToSave: ["h.3"] }, "transformer.h.3.mlp.c_fc")).toBe(true);
    expect(isExcluded({ targetModules: ["c_fc"], modulesToSave: ["h.3"] }, "transformer.h.2.mlp.c_fc")).toBe(false);
    expect(isExcluded({ targetModules: ["lm_head"], modulesToSave: ["lm_head"] }, "lm_head")).toBe(true);
  });

  it("layersPattern takes the first match (lazy), as PEFT's regex", () => {
    expect(layerIndexOf("model.layers.1.experts.0.w1", ["experts"])).toBe(0);
    expect(layerIndexOf("model.layers.1.experts.0.w1")).toBe(1);
  });
});
