import { describe, expect, it } from "vitest";
import { ConfigSchema, field, nullOr, positiveInt, snakeCase } from "../../src/io/index.js";
import { GPT2Config, T5Config } from "../../src/models/index.js";

describe("snakeCase", () => {
  it.each([
    ["vocabSize", "vocab_size"],
    ["dKv", "d_kv"],
    ["nEmbd", "n_embd"],
    ["scaleAttnByInverseLayerIdx", "scale_attn_by_inverse_layer_idx"],
    ["useRslora", "use_rslora"],
    ["r", "r"],
  ])("%s -> %s", (camel, snake) => expect(snakeCase(camel)).toBe(snake));
});

describe("ConfigSchema.resolve", () => {
  const schema = new ConfigSchema(
    { width: field(8, positiveInt), depth: field<number | null>(null, nullOr(positiveInt)), pattern: field<Record<string, number>>({}) },
    { owner: "ToyConfig", fixed: ["kind"] },
  );

  it("fills defaults, takes camelCase or snake_case keys, and ignores the fixed ones", () => {
    expect(schema.resolve({})).toEqual({ width: 8, depth: null, pattern: {} });
    expect(schema.resolve({ width: 4, depth: 2, kind: "x" })).toEqual({ width: 4, depth: 2, pattern: {} });
    expect(schema.resolve({ width: undefined })).toEqual({ width: 8, depth: null, pattern: {} });
  });

  it("does not share an object default between two configs", () => {
    const a = schema.resolve({});
    a.pattern.x = 1;
    expect(schema.resolve({}).pattern).toEqual({});
  });

  it("names an unknown key, a key given twice and a failed check", () => {
    expect(() => schema.resolve({ wdth: 3 })).toThrow("ToyConfig: unknown field(s) wdth; known: width, depth, pattern");
    expect(() => schema.resolve({ width: 3, width_: 4 })).toThrow(/unknown field\(s\) width_/);
    const twice = new ConfigSchema({ loraAlpha: field(8) }, { owner: "T" });
    expect(() => twice.resolve({ loraAlpha: 1, lora_alpha: 2 })).toThrow(
      "T: loraAlpha is given twice (as loraAlpha and lora_alpha); give it once",
    );
    expect(() => schema.resolve({ width: 0 })).toThrow("ToyConfig.width must be a positive integer, got 0");
    expect(() => schema.resolve({ depth: 1.5 })).toThrow("ToyConfig.depth must be a positive integer, got 1.5");
  });

  it("reads and writes JSON under the snake_case names, in table order", () => {
    expect(schema.readJSON({ width: 3, other: 1, depth: null }, { skipNull: true })).toEqual({ width: 3 });
    expect(schema.writeJSON({ width: 3, depth: undefined, pattern: { a: 1 } })).toEqual({ width: 3, depth: null, pattern: { a: 1 } });
  });
});

// The gpt2 checkpoint's config.json as published on the Hugging Face hub (openai-community/gpt2).
const HUB_GPT2_CONFIG = {
  activation_function: "gelu_new",
  architectures: ["GPT2LMHeadModel"],
  attn_pdrop: 0.1,
  bos_token_id: 50256,
  embd_pdrop: 0.1,
  eos_token_id: 50256,
  initializer_range: 0.02,
  layer_norm_epsilon: 1e-5,
  model_type: "gpt2",
  n_ctx: 1024,
  n_embd: 768,
  n_head: 12,
  n_layer: 12,
  n_positions: 1024,
  resid_pdrop: 0.1,
  summary_activation: null,
  summary_first_dropout: 0.1,
  summary_proj_to_labels: true,
  summary_type: "cls_index",
  summary_use_proj: true,
  task_specific_params: { "text-generation": { do_sample: true, max_length: 50 } },
  vocab_size: 50257,
};

describe("model configs on the shared base", () => {
  it("reads the hub's gpt2 config.json as GPT2Config's defaults and writes its fields back", () => {
    const c = GPT2Config.fromJSON(HUB_GPT2_CONFIG);
    expect(c).toEqual(new GPT2Config());
    const out = c.toJSON();
    for (const key of ["activation_function", "n_embd", "n_head", "n_layer", "n_positions", "vocab_size", "layer_norm_epsilon"]) {
      expect(out[key]).toEqual((HUB_GPT2_CONFIG as Record<string, unknown>)[key]);
    }
    expect(Object.keys(out).slice(0, 2)).toEqual(["architectures", "model_type"]);
  });

  it("accepts transformers' snake_case keyword names in the constructor", () => {
    expect(new GPT2Config({ n_embd: 64, n_head: 4 } as never)).toMatchObject({ nEmbd: 64, nHead: 4 });
    expect(new T5Config({ d_model: 32, d_kv: 8, num_heads: 4 } as never)).toMatchObject({ dModel: 32, dKv: 8, numHeads: 4 });
  });

  it("keeps presets separate from each other's overrides", () => {
    const a = GPT2Config.preset("tiny", { nLayer: 2 });
    expect(a.nLayer).toBe(2);
    expect(GPT2Config.preset("tiny").nLayer).toBe(4);
    expect(a).toBeInstanceOf(GPT2Config);
    expect(T5Config.preset("tiny")).toBeInstanceOf(T5Config);
  });
});

describe("LoraConfig on the shared base", () => {
  it("accepts PEFT's Python keyword names, as pasted from a PEFT script", async () => {
    const { LoraConfig } = await import("../../src/peft/index.js");
    const c = new LoraConfig({ r: 16, lora_alpha: 32, target_modules: ["c_attn"], lora_dropout: 0.05, layers_to_transform: [1] } as never);
    expect(c).toMatchObject({ r: 16, loraAlpha: 32, targetModules: ["c_attn"], loraDropout: 0.05, layersToTransform: [1] });
    expect(c.toJSON()).toMatchObject({ lora_alpha: 32, target_modules: ["c_attn"], layers_to_transform: [1] });
    expect(() => new LoraConfig({ loraAlpha: 16, lora_alpha: 32 } as never)).toThrow(/loraAlpha is given twice/);
  });
});
