import type * as tf from "@tensorflow/tfjs";
import { fromFloat32, serializeSafetensors, writeFilesAtomic, type SafeTensor } from "../io/index.js";

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
  /**
   * Largest shard in bytes: bigger models are written as model-0000i-of-0000n.safetensors and
   * model.safetensors.index.json, as transformers' max_shard_size. Default: one file.
   */
  maxShardSize?: number;
}

/** Tensors packed in order into shards of at most `max` bytes (a larger tensor gets its own), as transformers packs them. */
function shards(tensors: Record<string, SafeTensor>, max: number): Array<Record<string, SafeTensor>> {
  const out: Array<Record<string, SafeTensor>> = [{}];
  let size = 0;
  for (const [name, t] of Object.entries(tensors)) {
    const bytes = t.data.byteLength;
    if (size > 0 && size + bytes > max) {
      out.push({});
      size = 0;
    }
    out[out.length - 1][name] = t;
    size += bytes;
  }
  return out;
}

/** The token ids of transformers' GenerationConfig that it takes over from a model's config (GenerationConfig.from_model_config). */
const GENERATION_TOKEN_KEYS = [
  "bos_token_id",
  "eos_token_id",
  "pad_token_id",
  "decoder_start_token_id",
  "forced_bos_token_id",
  "forced_eos_token_id",
];

/**
 * generation_config.json as transformers' save_pretrained writes it for a model whose generation
 * settings come from its config: GenerationConfig.from_model_config keeps the config's non-null
 * generation keys (here the token ids), and the file holds only what differs from GenerationConfig's
 * defaults (every id defaults to null), keys sorted, marked `_from_model_config`.
 */
export function generationConfigJSON(config: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = { _from_model_config: true };
  for (const key of GENERATION_TOKEN_KEYS) if (config[key] !== undefined && config[key] !== null) out[key] = config[key];
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/**
 * Writes a Hugging Face model folder: config.json, generation_config.json and model.safetensors (metadata
 * {"format": "pt"}, as transformers writes), or shards and their index. All of them are replaced
 * together (writeFilesAtomic): a failure before the last file is written leaves the folder's old
 * model whole; config.json goes in last, and a stale file of the other layout is removed after.
 */
export async function saveModelFolder(model: Saveable, dir: string, opts: SavePretrainedOptions = {}): Promise<void> {
  const tied = new Set(model.tiedKeys());
  const tensors: Record<string, SafeTensor> = {};
  for (const [name, t] of Object.entries(model.stateDict())) {
    if (tied.has(name)) continue;
    tensors[name] = fromFloat32(t.dataSync() as Float32Array, t.shape, opts.dtype ?? "F32");
  }
  const parts = opts.maxShardSize === undefined ? [tensors] : shards(tensors, opts.maxShardSize);
  const config = { ...model.configJSON(), torch_dtype: { F32: "float32", F16: "float16", BF16: "bfloat16" }[opts.dtype ?? "F32"] };
  // A stale file of the other layout would be read instead of (or beside) the new one.
  const stale = parts.length === 1 ? "model.safetensors.index.json" : "model.safetensors";
  await writeFilesAtomic(
    dir,
    async (put) => {
      if (parts.length === 1) await put("model.safetensors", serializeSafetensors(tensors, { format: "pt" }));
      else {
        const n = String(parts.length).padStart(5, "0");
        const weightMap: Record<string, string> = {};
        for (const [i, part] of parts.entries()) {
          const file = `model-${String(i + 1).padStart(5, "0")}-of-${n}.safetensors`;
          await put(file, serializeSafetensors(part, { format: "pt" }));
          for (const name of Object.keys(part)) weightMap[name] = file;
        }
        const totalSize = Object.values(tensors).reduce((a, t) => a + t.data.byteLength, 0);
        await put(
          "model.safetensors.index.json",
          JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2) + "\n",
        );
      }
      await put("generation_config.json", JSON.stringify(generationConfigJSON(config), null, 2) + "\n");
      await put("config.json", JSON.stringify(config, null, 2) + "\n");
    },
    { remove: [stale] },
  );
}
