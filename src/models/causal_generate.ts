import * as tf from "@tensorflow/tfjs";
import type { Module } from "../nn/index.js";
import { checkGenerateOptions, pickToken, type GenerateOptions } from "./generation.js";
import { toIdTensor } from "./inputs.js";

/** What a decoder-only model offers generation: logits [B, T, V] for id rows [B, T], and its mode. */
export interface CausalLM extends Module {
  forward(ids: number[][]): tf.Tensor3D;
}

/**
 * The decoding loop of a decoder-only model (no KV cache): continues each prompt by
 * `maxNewTokens` tokens, greedily at temperature 0, otherwise by seeded sampling, the context
 * cropped to the last `contextLength` tokens. A sequence that produced `eosTokenId` is padded
 * with it while the others go on, so the result stays rectangular.
 */
export function generateCausal(
  model: CausalLM,
  ids: number[] | number[][],
  opts: GenerateOptions,
  contextLength: number,
  vocabSize: number,
): number[][] {
  const rows = (Array.isArray(ids[0]) ? (ids as number[][]) : [ids as number[]]).map((r) => [...r]);
  toIdTensor(rows, vocabSize).dispose(); // validates the prompt
  checkGenerateOptions(opts);
  const eos = opts.eosTokenId;
  const done = rows.map(() => false);
  const wasTraining = model.training;
  model.eval();
  try {
    for (let step = 0; step < opts.maxNewTokens && done.some((d) => !d); step++) {
      const last = tf.tidy(() => {
        const logits = model.forward(rows.map((r) => r.slice(-contextLength))); // [B, T, V]
        const [B, T, V] = logits.shape;
        return logits.slice([0, T - 1, 0], [B, 1, V]).reshape([B, V]);
      });
      const V = last.shape[1] as number;
      const values = last.dataSync();
      last.dispose();
      rows.forEach((row, b) => {
        const next = done[b] ? (eos as number) : pickToken(values.subarray(b * V, (b + 1) * V), opts);
        row.push(next);
        if (eos !== undefined && eos !== null && next === eos) done[b] = true;
      });
    }
  } finally {
    model.train(wasTraining);
  }
  return rows;
}
