import * as tf from "@tensorflow/tfjs";
import { existsSync, readdirSync, statSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { readSafetensors, toFloat32, type SafeTensor } from "../io/index.js";
import type { Module } from "../nn/index.js";
import { resolveHubModel, type HubOptions } from "./hub.js";
import { GPT2Config } from "./gpt2_config.js";
import { GPT2LMHeadModel } from "./gpt2.js";
import { T5Config } from "./t5_config.js";
import { T5ForConditionalGeneration } from "./t5.js";
import { LlamaConfig, LLAMA_MODEL_TYPES } from "./llama_config.js";
import { LlamaForCausalLM } from "./llama.js";
import { BartConfig } from "./bart_config.js";
import { BartForConditionalGeneration } from "./bart.js";

/** How one architecture is built from config.json and how checkpoint keys map onto it. */
export interface Architecture {
  build(config: Record<string, unknown>): Module;
  /** Checkpoint key -> model key, or null to skip the tensor (buffers such as GPT-2's attn.bias). */
  mapKey(key: string): string | null;
  /** Model keys that may be absent from the file (tied weights). */
  optionalKeys(model: Module): string[];
}

const gpt2Architecture: Architecture = {
  build: (config) => new GPT2LMHeadModel(GPT2Config.fromJSON(config)),
  mapKey(key) {
    // The causal-mask buffers of older checkpoints are not parameters.
    if (key.endsWith(".attn.bias") || key.endsWith(".attn.masked_bias")) return null;
    // Checkpoints of the bare GPT2Model (the original "gpt2") have no "transformer." prefix.
    if (key === "lm_head.weight" || key.startsWith("transformer.")) return key;
    return `transformer.${key}`;
  },
  optionalKeys: (model) => ((model as GPT2LMHeadModel).config.tieWordEmbeddings ? ["lm_head.weight"] : []),
};

const t5Architecture: Architecture = {
  build: (config) => new T5ForConditionalGeneration(T5Config.fromJSON(config)),
  // Older conversions carry a position table in the first cross-attention, which T5 never uses.
  mapKey: (key) => (key === "decoder.block.0.layer.1.EncDecAttention.relative_attention_bias.weight" ? null : key),
  // HF saves `shared.weight` alone; the embed_tokens aliases (and a tied lm_head) may be absent.
  optionalKeys: (model) => (model as T5ForConditionalGeneration).tiedKeys(),
};

const llamaArchitecture: Architecture = {
  build: (config) => new LlamaForCausalLM(LlamaConfig.fromJSON(config)),
  // Older conversions store RoPE's inv_freq buffer, which lora-lab recomputes from the config.
  mapKey: (key) => (key.endsWith(".rotary_emb.inv_freq") ? null : key),
  optionalKeys: (model) => (model as LlamaForCausalLM).tiedKeys(),
};

const bartArchitecture: Architecture = {
  build: (config) => new BartForConditionalGeneration(BartConfig.fromJSON(config)),
  // Checkpoints of the bare BartModel name its tensors without the "model." prefix.
  mapKey: (key) => (key === "lm_head.weight" || key === "final_logits_bias" || key.startsWith("model.") ? key : `model.${key}`),
  optionalKeys: (model) => (model as BartForConditionalGeneration).tiedKeys(),
};

/** Architectures by config.json's model_type; other model families register here. */
export const ARCHITECTURES = new Map<string, Architecture>([
  ["gpt2", gpt2Architecture],
  ["t5", t5Architecture],
  ...LLAMA_MODEL_TYPES.map((type) => [type, llamaArchitecture] as const),
  ["bart", bartArchitecture],
]);

/** Hub options (revision, caches, offline, token, fetch): see hub.ts. */
export type FromPretrainedOptions = HubOptions;

const HUB_ID = /^[A-Za-z0-9][\w.-]*(\/[\w.-]+)?$/;

async function readJSON(path: string): Promise<Record<string, unknown>> {
  try {
    return JSON.parse(await readFile(path, "utf8")) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`could not read ${path}: ${(err as Error).message}`);
  }
}

/** Reads model.safetensors, or every shard named by model.safetensors.index.json. */
async function readWeights(dir: string): Promise<Record<string, SafeTensor>> {
  const single = join(dir, "model.safetensors");
  if (existsSync(single)) return (await readSafetensors(single)).tensors;
  const indexPath = join(dir, "model.safetensors.index.json");
  if (existsSync(indexPath)) {
    const index = (await readJSON(indexPath)) as { weight_map?: Record<string, string> };
    if (!index.weight_map) throw new Error(`${indexPath} has no "weight_map"`);
    const tensors: Record<string, SafeTensor> = {};
    for (const shard of new Set(Object.values(index.weight_map))) {
      if (!existsSync(join(dir, shard)))
        throw new Error(`${indexPath} names the shard ${shard}, which is missing (files: ${readdirSync(dir).join(", ")})`);
      Object.assign(tensors, (await readSafetensors(join(dir, shard))).tensors);
    }
    return tensors;
  }
  const present = readdirSync(dir).join(", ") || "(empty)";
  throw new Error(
    `no model.safetensors or model.safetensors.index.json in ${dir} (files: ${present}). ` +
      `Only safetensors weights are read; convert a pytorch_model.bin with transformers' save_pretrained(safe_serialization=True).`,
  );
}

/**
 * The local folder of a model: the folder itself, or for a hub id its folder in lora-lab's cache or
 * the Hugging Face cache, downloaded when neither has it (resolveHubModel). `loadTokenizer(await pretrainedFolder("gpt2"))` gets the
 * tokenizer that goes with `fromPretrained("gpt2")`.
 */
export async function pretrainedFolder(dirOrHubId: string, opts: FromPretrainedOptions = {}): Promise<string> {
  if (existsSync(dirOrHubId)) {
    if (!statSync(dirOrHubId).isDirectory())
      throw new Error(`fromPretrained: "${dirOrHubId}" is a file; pass the model folder that holds config.json`);
    return dirOrHubId;
  }
  if (!HUB_ID.test(dirOrHubId))
    throw new Error(`fromPretrained: "${dirOrHubId}" is neither an existing folder nor a hub id like "gpt2" or "org/name"`);
  return resolveHubModel(dirOrHubId, opts);
}

/**
 * Loads a Hugging Face model folder (config.json + safetensors) or a hub id such as "gpt2" (from a
 * local cache, Python's included, or the hub; see hub.ts for offline use). The architecture comes from config.json's model_type. The model comes back in
 * evaluation mode, as transformers returns it; call `train()` before fine-tuning.
 */
export async function fromPretrained<M extends Module = GPT2LMHeadModel>(dirOrHubId: string, opts: FromPretrainedOptions = {}): Promise<M> {
  const dir = await pretrainedFolder(dirOrHubId, opts);
  const configPath = join(dir, "config.json");
  if (!existsSync(configPath)) throw new Error(`fromPretrained: no config.json in ${dir}`);
  const config = await readJSON(configPath);
  const type = String(config.model_type ?? "");
  const arch = ARCHITECTURES.get(type);
  if (!arch)
    throw new Error(
      `fromPretrained: model_type "${type}" in ${configPath} is not supported; supported: ${[...ARCHITECTURES.keys()].join(", ")}`,
    );
  const weights = await readWeights(dir);
  const model = arch.build(config);
  try {
    const dict: Record<string, tf.Tensor> = {};
    for (const [key, t] of Object.entries(weights)) {
      const mapped = arch.mapKey(key);
      if (mapped !== null) dict[mapped] = tf.tensor(toFloat32(t), t.shape, "float32");
    }
    const optional = new Set(arch.optionalKeys(model));
    const { missingKeys, unexpectedKeys } = (() => {
      try {
        return model.loadStateDict(dict, { strict: false });
      } finally {
        tf.dispose(Object.values(dict));
      }
    })();
    const missing = missingKeys.filter((k) => !optional.has(k));
    if (missing.length || unexpectedKeys.length) {
      throw new Error(
        `fromPretrained: the weights in ${dir} do not fit a ${type} model with this config.json` +
          (missing.length ? `\n  missing: ${missing.join(", ")}` : "") +
          (unexpectedKeys.length ? `\n  unexpected: ${unexpectedKeys.join(", ")}` : ""),
      );
    }
  } catch (err) {
    model.dispose();
    throw err;
  }
  // As in transformers, a loaded model starts in evaluation mode (dropout off).
  model.eval();
  return model as M;
}
