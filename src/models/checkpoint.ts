import * as tf from "@tensorflow/tfjs";
import { join } from "node:path";
import { fromFloat32, writeFileAtomic, writeSafetensors, type SafeTensor } from "../io/index.js";

/** What savePretrained needs from a model: its HF config, its tensors and the keys it ties. */
export interface Saveable {
  stateDict(): Record<string, tf.Tensor>;
  configJSON(): Record<string, unknown>;
  /** State-dict keys that alias another key (HF drops them from the file and re-ties on load). */
  tiedKeys(): string[];
}

export interface SavePretrainedOptions {
  /** Storage dtype of float tensors. Default "F32". */
  dtype?: "F32" | "F16" | "BF16";
}

/**
 * Writes a Hugging Face model folder: config.json and model.safetensors (metadata
 * {"format": "pt"}, as transformers writes), both atomically.
 */
export async function saveModelFolder(model: Saveable, dir: string, opts: SavePretrainedOptions = {}): Promise<void> {
  const tied = new Set(model.tiedKeys());
  const tensors: Record<string, SafeTensor> = {};
  for (const [name, t] of Object.entries(model.stateDict())) {
    if (tied.has(name)) continue;
    tensors[name] = fromFloat32(t.dataSync() as Float32Array, t.shape, opts.dtype ?? "F32");
  }
  await writeSafetensors(join(dir, "model.safetensors"), tensors, { format: "pt" });
  const config = { ...model.configJSON(), torch_dtype: { F32: "float32", F16: "float16", BF16: "bfloat16" }[opts.dtype ?? "F32"] };
  await writeFileAtomic(join(dir, "config.json"), JSON.stringify(config, null, 2) + "\n");
}
