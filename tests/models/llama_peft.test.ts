import * as tf from "@tensorflow/tfjs";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { readSafetensors } from "../../src/io/index.js";
import { LlamaConfig, llama } from "../../src/models/index.js";
import { LoraConfig, PeftModel, applyPlan, articlePlan, getPeftModel } from "../../src/peft/index.js";
import { quantizeModel } from "../../src/quant/index.js";
import { tokenWindows } from "../../src/data/index.js";
import { ByteTokenizer } from "../../src/tokenizers/index.js";
import { evaluateLoss, train } from "../../src/train/index.js";

const work = mkdtempSync(join(tmpdir(), "lora-lab-llama-peft-"));
const tiny = () => LlamaConfig.preset("tiny"); // 4 layers, 128 wide, 4 query heads over 2 kv heads of 32

beforeAll(async () => {
  await ready({ backend: "wasm" });
  vi.spyOn(console, "warn").mockImplementation(() => {});
  vi.spyOn(console, "log").mockImplementation(() => {});
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** The module names that got adapters, without PEFT's prefix. */
const wrapped = (model: PeftModel) =>
  [...model.baseModel.namedModules().keys()].filter((k) => k.endsWith(".lora_A")).map((k) => k.replace(/\.lora_A$/, ""));

describe("PEFT's trainable-parameter line on the SmolLM2-135M shape", () => {
  it("r=8 on q_proj, v_proj: PEFT's line; then all-linear", () => {
    seed(0);
    const base = llama("smollm2-135m");
    // transformers' count for HuggingFaceTB/SmolLM2-135M (tied head counted once).
    expect(base.numParameters()).toBe(134_515_008);
    expect(base.lm_head.weight).toBe(base.model.embed_tokens.weight);
    const model = getPeftModel(base, new LoraConfig({ r: 8, targetModules: ["q_proj", "v_proj"] }));
    // By hand: 30 layers * 8 * ((576 + 576) + (576 + 192)) = 460,800.
    expect(model.printTrainableParameters()).toBe("trainable params: 460,800 || all params: 134,975,808 || trainable%: 0.3414");
    // all-linear: q, k, v, o, gate, up, down of each layer (not lm_head):
    // 30 * 8 * (2 * (576 + 576) + 2 * (576 + 192) + 3 * (576 + 1536)) = 2,442,240.
    const all = getPeftModel(model.unload(), new LoraConfig({ r: 8, targetModules: "all-linear" }));
    const t = 30 * 8 * (2 * 1152 + 2 * 768 + 3 * 2112);
    expect(all.getNbTrainableParameters()).toEqual([t, 134_515_008 + t]);
    all.dispose();
  }, 120_000);
});

describe("LoRA on the tiny llama", () => {
  it('"all-linear" wraps the seven projections of every layer, never lm_head; layersToTransform picks layers', () => {
    seed(1);
    const all = getPeftModel(llama(tiny()), new LoraConfig({ r: 4, targetModules: "all-linear" }));
    const names = wrapped(all);
    expect(names).toHaveLength(4 * 7);
    expect(names.filter((n) => n.startsWith("model.layers.2."))).toEqual(
      ["self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj", "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"].map(
        (n) => `model.layers.2.${n}`,
      ),
    );
    expect(names).not.toContain("lm_head");
    const some = getPeftModel(all.unload(), new LoraConfig({ r: 4, targetModules: ["q_proj", "v_proj"], layersToTransform: [1, 3] }));
    expect(wrapped(some)).toEqual([
      "model.layers.1.self_attn.q_proj",
      "model.layers.1.self_attn.v_proj",
      "model.layers.3.self_attn.q_proj",
      "model.layers.3.self_attn.v_proj",
    ]);
    // The default targets of model_type llama, qwen2 and mistral are PEFT's: q_proj and v_proj.
    const byDefault = getPeftModel(some.unload(), new LoraConfig({ r: 4 }));
    expect(wrapped(byDefault).every((n) => /self_attn\.(q|v)_proj$/.test(n))).toBe(true);
    expect(wrapped(byDefault)).toHaveLength(8);
    byDefault.dispose();
    for (const modelType of ["qwen2", "mistral"] as const) {
      const other = getPeftModel(llama(LlamaConfig.preset("tiny", { modelType, numHiddenLayers: 2 })), new LoraConfig({ r: 4 }));
      expect(wrapped(other)).toEqual([0, 1].flatMap((i) => [`model.layers.${i}.self_attn.q_proj`, `model.layers.${i}.self_attn.v_proj`]));
      other.dispose();
    }
  });

  it("the article's plan: layers 0-1 frozen, 2 at r 8 and 3 at r 16 on Q and V, a trainable head", () => {
    seed(2);
    const base = llama(tiny());
    const model = applyPlan(base, articlePlan(base)).model as PeftModel;
    expect(wrapped(model)).toEqual([
      "model.layers.2.self_attn.q_proj",
      "model.layers.2.self_attn.v_proj",
      "model.layers.3.self_attn.q_proj",
      "model.layers.3.self_attn.v_proj",
    ]);
    // By hand: q is 128 -> 128, v is 128 -> 64 (2 kv heads of 32); the head is 256 x 128.
    const lora = 8 * (256 + 192) + 16 * (256 + 192);
    expect(model.getNbTrainableParameters()[0]).toBe(lora + 256 * 128);
    model.dispose();
  });

  it("adapters save under PEFT's file and key names and round-trip through lora-lab's own loader onto a fresh base to the same logits", async () => {
    seed(3);
    const model = getPeftModel(llama(tiny()), new LoraConfig({ r: 4, targetModules: ["q_proj", "v_proj"], initLoraWeights: "gaussian" }));
    const dir = join(work, "adapter");
    await model.savePretrained(dir);
    const cfg = JSON.parse(readFileSync(join(dir, "adapter_config.json"), "utf8"));
    expect(cfg).toMatchObject({ peft_type: "LORA", r: 4 });
    expect([...cfg.target_modules].sort()).toEqual(["q_proj", "v_proj"]);
    const keys = Object.keys((await readSafetensors(join(dir, "adapter_model.safetensors"))).tensors);
    expect(keys).toContain("base_model.model.model.layers.0.self_attn.q_proj.lora_A.weight");
    expect(keys).toContain("base_model.model.model.layers.3.self_attn.v_proj.lora_B.weight");
    seed(3);
    const fresh = llama(tiny());
    const again = await PeftModel.fromPretrained(fresh, dir);
    const ids = [[10, 20, 30, 40]];
    model.eval();
    expect(again.forward(ids).dataSync()).toEqual(model.forward(ids).dataSync());
    model.dispose();
    again.dispose();
  });
});

describe("training LoRA and QLoRA on the tiny llama", () => {
  const tokenizer = new ByteTokenizer();
  const text = "the quick brown fox jumps over the lazy dog. ".repeat(40);
  const windows = tokenWindows(tokenizer.encode(text), { length: 32 });
  const batch = (() => {
    const rows = windows.slice(0, 4);
    const inputIds = new Int32Array(rows.flatMap((w) => [...w.slice(0, 32)]));
    const targets = new Int32Array(rows.flatMap((w) => [...w.slice(1, 33)]));
    return { inputIds, targets, shape: [4, 32] as [number, number] };
  })();

  for (const quantized of [false, true]) {
    it(`${quantized ? "QLoRA (NF4 base)" : "LoRA"} on q_proj, v_proj: a few steps lower the loss, base frozen, no leaks`, async () => {
      seed(4);
      const base = llama(tiny());
      if (quantized) quantizeModel(base, { quantType: "nf4", blocksize: 64, doubleQuant: true });
      const model = getPeftModel(base, new LoraConfig({ r: 8, loraAlpha: 16, targetModules: ["q_proj", "v_proj"] }));
      const trainable = [...model.namedParameters()].filter(([, p]) => p.requiresGrad).map(([n]) => n);
      expect(trainable.length).toBeGreaterThan(0);
      expect(trainable.every((n) => /\.lora_[AB]\./.test(n))).toBe(true);
      const before = await evaluateLoss(model, [batch]);
      const tensors = tf.memory().numTensors;
      await train(model, { data: windows, batchSize: 4, steps: 12, lr: 1e-2 });
      expect(tf.memory().numTensors).toBe(tensors); // the trainer frees its optimizer state
      const after = await evaluateLoss(model, [batch]);
      expect(after).toBeLessThan(before - 0.3);
      model.dispose();
    }, 60_000);
  }
});
