/**
 * LoRA on some of Q, K, V inside a fused projection (GPT-2's c_attn: one [C, 3C] Conv1D whose output
 * columns are Q | K | V). lora-lab's option for the article's "LoRA on Q and V": lora_B has 2C rows
 * that write only the Q and V column blocks, so K gets no update and the adapter has
 * r (C + 2C) parameters instead of PEFT's r (C + 3C). Python PEFT has no such layer: its default
 * (and lora-lab's) is one LoRA over the whole fused QKV, and only that form is saved in PEFT's format.
 */
import * as tf from "@tensorflow/tfjs";
import { Conv1D, Linear, type Module } from "../../nn/index.js";

export type QkvPart = "q" | "k" | "v";
const ORDER: QkvPart[] = ["q", "k", "v"];

/** Names of fused QKV projections by architecture-neutral local name. */
export const FUSED_QKV_NAMES = ["c_attn", "query_key_value", "qkv_proj", "Wqkv"];

/** The output column ranges of `parts` in a fused layer of width 3C, or undefined for other layers. */
export function fusedQkvRanges(target: Module, key: string, parts: QkvPart[]): Array<[number, number]> | undefined {
  // A layer already wrapped by LoRA (a second adapter) is judged by its base layer.
  const wrapped = (target as unknown as { base_layer?: unknown }).base_layer;
  const layer = wrapped instanceof Conv1D || wrapped instanceof Linear ? wrapped : target;
  const local = key.slice(key.lastIndexOf(".") + 1);
  if (!FUSED_QKV_NAMES.includes(local) || !(layer instanceof Conv1D || layer instanceof Linear)) return undefined;
  if (layer.outFeatures !== 3 * layer.inFeatures) {
    throw new Error(`fusedQkv: ${key} has ${layer.outFeatures} outputs, expected 3 x ${layer.inFeatures} (Q | K | V)`);
  }
  const unknown = parts.filter((p) => !ORDER.includes(p));
  if (unknown.length || parts.length === 0) throw new Error(`fusedQkv parts must be some of "q", "k", "v", got ${JSON.stringify(parts)}`);
  const C = layer.inFeatures;
  return ORDER.filter((p) => parts.includes(p)).map((p) => [ORDER.indexOf(p) * C, (ORDER.indexOf(p) + 1) * C]);
}

/** [rows of `part` placed at `ranges` along `axis`, zeros elsewhere]: the delta of a partial adapter. */
export function scatter(part: tf.Tensor, ranges: Array<[number, number]>, size: number, axis: number): tf.Tensor {
  return tf.tidy(() => {
    const pieces: tf.Tensor[] = [];
    let at = 0;
    let used = 0;
    const zeros = (n: number) => {
      const shape = [...part.shape];
      shape[axis < 0 ? part.rank + axis : axis] = n;
      return tf.zeros(shape);
    };
    for (const [s, e] of ranges) {
      if (s > at) pieces.push(zeros(s - at));
      const begin = part.shape.map(() => 0);
      const sz = part.shape.map(() => -1);
      const ax = axis < 0 ? part.rank + axis : axis;
      begin[ax] = used;
      sz[ax] = e - s;
      pieces.push(part.slice(begin, sz));
      used += e - s;
      at = e;
    }
    if (at < size) pieces.push(zeros(size - at));
    return tf.concat(pieces, axis);
  });
}
