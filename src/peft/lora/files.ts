/**
 * Adapter folders in PEFT's format, both ways: adapter_config.json (PEFT's snake_case keys) and
 * adapter_model.safetensors (metadata {"format": "pt"}, adapter name stripped from the keys, see
 * state_dict.ts). PeftModel decides which adapters go where; this file reads and writes one folder.
 */
import * as tf from "@tensorflow/tfjs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fromFloat32, readSafetensors, serializeSafetensors, toFloat32, writeFilesAtomic, type SafeTensor } from "../../io/index.js";
import type { Parameter } from "../../nn/index.js";
import { LoraConfig } from "./config.js";
import type { LoraLayer } from "./layer.js";

export const ADAPTER_CONFIG_NAME = "adapter_config.json";
export const ADAPTER_WEIGHTS_NAME = "adapter_model.safetensors";

export interface SaveAdapterOptions {
  /** Adapters to write; default all. "default" goes into `dir`, any other into `dir/<name>`. */
  selectedAdapters?: string[];
  dtype?: "F32" | "F16" | "BF16";
}

/** Throws when adapter `name` uses a layer form that Python PEFT cannot load. */
export function checkPeftCompatible(layers: Map<string, LoraLayer>, name: string): void {
  for (const [key, layer] of layers) {
    if (layer.specs.get(name)?.outputRanges) {
      throw new Error(
        `adapter "${name}" uses lora-lab's Q/V-only LoRA on ${key}, which Python PEFT cannot load; ` +
          "use the default (one LoRA over the fused c_attn) to save in PEFT's format",
      );
    }
  }
}

/**
 * Writes one adapter: its tensors by saved name, its config (inference_mode true, as PEFT saves) and
 * a model card, replaced together (writeFilesAtomic), so a failed save leaves the old adapter whole.
 */
export async function writeAdapterFolder(
  dir: string,
  name: string,
  config: LoraConfig,
  params: Map<string, Parameter>,
  dtype: SaveAdapterOptions["dtype"] = "F32",
): Promise<void> {
  const tensors: Record<string, SafeTensor> = {};
  for (const [key, p] of params) tensors[key] = fromFloat32(p.variable.dataSync() as Float32Array, p.shape, dtype);
  const json = config.with({ inferenceMode: true }).toJSON();
  await writeFilesAtomic(dir, async (put) => {
    await put(ADAPTER_WEIGHTS_NAME, serializeSafetensors(tensors, { format: "pt" }));
    await put(ADAPTER_CONFIG_NAME, JSON.stringify(json, null, 2) + "\n");
    await put("README.md", `---\nlibrary_name: peft\n---\n# LoRA adapter "${name}"\n\nWritten by lora-lab in PEFT's format.\n`);
  });
}

/** The folder's adapter_config.json as a LoraConfig, in inference mode unless `isTrainable`. */
export async function readAdapterConfig(dir: string, isTrainable: boolean): Promise<LoraConfig> {
  const configPath = join(dir, ADAPTER_CONFIG_NAME);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await readFile(configPath, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`cannot read ${configPath}: ${(e as Error).message}`);
  }
  return LoraConfig.fromJSON({ ...json, inference_mode: !isTrainable });
}

/**
 * Assigns the folder's tensors to `params` (saved name -> parameter). Every tensor of the file
 * must find its parameter, and every parameter its tensor, with equal shapes.
 */
export async function loadAdapterWeights(dir: string, params: Map<string, Parameter>): Promise<void> {
  const file = await readSafetensors(join(dir, ADAPTER_WEIGHTS_NAME));
  const missing = [...params.keys()].filter((k) => !(k in file.tensors));
  const unexpected = Object.keys(file.tensors).filter((k) => !params.has(k));
  if (missing.length || unexpected.length) {
    throw new Error(
      `${join(dir, ADAPTER_WEIGHTS_NAME)} does not match the adapter built from its config` +
        (missing.length ? `\n  missing: ${missing.join(", ")}` : "") +
        (unexpected.length ? `\n  unexpected: ${unexpected.join(", ")}` : "") +
        `\n  expected keys: ${[...params.keys()].slice(0, 8).join(", ")}${params.size > 8 ? ", ..." : ""}`,
    );
  }
  for (const [key, p] of params) {
    const t = file.tensors[key];
    if (!tf.util.arraysEqual(t.shape, p.shape)) throw new Error(`${key}: file has shape [${t.shape}], the adapter expects [${p.shape}]`);
    const value = tf.tensor(toFloat32(t), t.shape, "float32");
    p.assign(value);
    value.dispose();
  }
}
