/**
 * Adapter folders in PEFT's format, both ways: adapter_config.json (PEFT's snake_case keys) and
 * adapter_model.safetensors (metadata {"format": "pt"}, adapter name stripped from the keys).
 */
import * as tf from "@tensorflow/tfjs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { fromFloat32, readSafetensors, toFloat32, writeFileAtomic, writeSafetensors, type SafeTensor } from "../io/index.js";
import { LoraConfig } from "./lora/config.js";
import { adapterLayers } from "./injector.js";
import { adapterParameters } from "./state_dict.js";
import type { PeftBaseModel, PeftModel } from "./peft_model.js";

export const ADAPTER_CONFIG_NAME = "adapter_config.json";
export const ADAPTER_WEIGHTS_NAME = "adapter_model.safetensors";

export interface SaveAdapterOptions {
  /** Adapters to write; default all. "default" goes into `dir`, any other into `dir/<name>`. */
  selectedAdapters?: string[];
  dtype?: "F32" | "F16" | "BF16";
}

function checkPeftCompatible(model: PeftModel, name: string): void {
  for (const [key, layer] of adapterLayers(model.baseModel).lora) {
    if (layer.specs.get(name)?.outputRanges) {
      throw new Error(
        `adapter "${name}" uses lora-lab's Q/V-only LoRA on ${key}, which Python PEFT cannot load; ` +
          "use the default (one LoRA over the fused c_attn) to save in PEFT's format",
      );
    }
  }
}

export async function saveAdapterFolder(model: PeftModel, dir: string, opts: SaveAdapterOptions = {}): Promise<void> {
  const names = opts.selectedAdapters ?? Object.keys(model.peftConfig);
  for (const name of names) {
    const cfg = model.peftConfig[name];
    if (!cfg) throw new Error(`savePretrained: adapter "${name}" not found; adapters: ${Object.keys(model.peftConfig).join(", ")}`);
    checkPeftCompatible(model, name);
    const out = name === "default" ? dir : join(dir, name);
    const tensors: Record<string, SafeTensor> = {};
    for (const [key, p] of adapterParameters(model, name, cfg.bias)) {
      tensors[key] = fromFloat32(p.variable.dataSync() as Float32Array, p.shape, opts.dtype ?? "F32");
    }
    await writeSafetensors(join(out, ADAPTER_WEIGHTS_NAME), tensors, { format: "pt" });
    const json = cfg.with({ inferenceMode: true }).toJSON();
    await writeFileAtomic(join(out, ADAPTER_CONFIG_NAME), JSON.stringify(json, null, 2) + "\n");
    await writeFileAtomic(join(out, "README.md"), `---\nlibrary_name: peft\n---\n# LoRA adapter "${name}"\n\nWritten by lora-lab in PEFT's format.\n`);
  }
}

/**
 * Reads an adapter folder into `model` (or into a new PeftModel around `base`). Every tensor of
 * the file must find its parameter, and every adapter parameter its tensor, with equal shapes.
 */
export async function loadAdapterFolder(model: PeftModel | undefined, dir: string, name: string, isTrainable: boolean, base?: PeftBaseModel): Promise<PeftModel> {
  const configPath = join(dir, ADAPTER_CONFIG_NAME);
  let json: Record<string, unknown>;
  try {
    json = JSON.parse(await readFile(configPath, "utf8")) as Record<string, unknown>;
  } catch (e) {
    throw new Error(`cannot read ${configPath}: ${(e as Error).message}`);
  }
  const cfg = LoraConfig.fromJSON({ ...json, inference_mode: !isTrainable });
  let peft = model;
  if (!peft) {
    const { getPeftModel } = await import("./peft_model.js");
    peft = getPeftModel(base as PeftBaseModel, cfg.with({ initLoraWeights: false }), name);
    peft.peftConfig[name] = cfg;
  } else {
    peft.addAdapter(name, cfg.with({ initLoraWeights: false }));
    peft.peftConfig[name] = cfg;
  }
  const file = await readSafetensors(join(dir, ADAPTER_WEIGHTS_NAME));
  const params = adapterParameters(peft, name, cfg.bias);
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
  peft.setAdapter(peft.activeAdapter);
  return peft;
}
