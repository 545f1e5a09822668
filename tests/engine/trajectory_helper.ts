import * as tf from "@tensorflow/tfjs";
import { seed, setWasmFastKernels } from "../../src/engine/index.js";
import { GPT2Config, T5Config, gpt2, t5 } from "../../src/models/index.js";
import { AdamW } from "../../src/optim/index.js";
import { getPeftModel } from "../../src/peft/index.js";

// Shared by trajectory.test.ts and without_native.test.ts: a small GPT-2 trained with lora-lab's
// wasm kernels on or off, so the two loss curves can be compared.

const CONFIG = GPT2Config.preset("tiny", { vocabSize: 64, nPositions: 16, nEmbd: 32, nLayer: 2, nHead: 2 });
const B = 4;
const T = CONFIG.nPositions;

function batch(step: number): [tf.Tensor2D, tf.Tensor2D] {
  // A learnable sequence (next = 3 * current + 1 mod V) from a different start per row and step.
  const seq = (start: number) => {
    const out = [start];
    for (let i = 0; i < T; i++) out.push((out[i] * 3 + 1) % CONFIG.vocabSize);
    return out;
  };
  const rows = Array.from({ length: B }, (_, b) => seq((step * 5 + b * 11) % CONFIG.vocabSize));
  return [
    tf.tensor2d(
      rows.map((r) => r.slice(0, T)),
      [B, T],
      "int32",
    ),
    tf.tensor2d(
      rows.map((r) => r.slice(1)),
      [B, T],
      "int32",
    ),
  ];
}

/** Losses of `steps` AdamW steps of a small GPT-2 (full or LoRA) with lora-lab's kernels on or off. */
export function trajectory(fast: boolean, lora: boolean, steps = 50): number[] {
  setWasmFastKernels(fast);
  seed(7);
  const base = gpt2(CONFIG);
  const model = lora
    ? getPeftModel(base, { r: 4, loraAlpha: 8, targetModules: ["c_attn"], fanInFanOut: true, layersToTransform: [1] })
    : base;
  const named = model.namedParameters();
  const optimizer = new AdamW(named, { lr: lora ? 1e-2 : 3e-3, weightDecay: 0.01 });
  const trainable = [...named.entries()].filter(([, p]) => p.requiresGrad);
  const nameOf = new Map(trainable.map(([n, p]) => [p.variable.name, n]));
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const [ids, targets] = batch(s);
    const { value, grads } = tf.variableGrads(
      () => model.loss(ids, targets) as tf.Scalar,
      trainable.map(([, p]) => p.variable),
    );
    optimizer.step(new Map(Object.entries(grads).map(([v, g]) => [nameOf.get(v)!, g])));
    losses.push(value.dataSync()[0]);
    tf.dispose([ids, targets, value, ...Object.values(grads)]);
  }
  optimizer.dispose();
  model.dispose();
  return losses;
}

const T5_CONFIG = T5Config.preset("tiny", { vocabSize: 40, dModel: 32, dKv: 8, dFf: 64, numLayers: 2, numHeads: 4 });

/**
 * Losses of `steps` AdamW steps of a small T5 (relative position bias, padded sources, causal and
 * cross attention) with lora-lab's wasm kernels on or off.
 */
export function t5Trajectory(fast: boolean, steps = 30): number[] {
  setWasmFastKernels(fast);
  seed(11);
  const model = t5(T5_CONFIG);
  const named = model.namedParameters();
  const optimizer = new AdamW(named, { lr: 3e-3, weightDecay: 0.01 });
  const params = [...named.entries()];
  const nameOf = new Map(params.map(([n, p]) => [p.variable.name, n]));
  const V = T5_CONFIG.vocabSize;
  // Copy task: the target is the source reversed; rows 1 and 3 have two padded source positions.
  const S = 10;
  const losses: number[] = [];
  for (let s = 0; s < steps; s++) {
    const src = Array.from({ length: 4 }, (_, b) => Array.from({ length: S }, (_, i) => 2 + ((s * 7 + b * 5 + i * 3) % (V - 2))));
    const mask = src.map((_, b) => Array.from({ length: S }, (_, i) => (b % 2 === 1 && i >= S - 2 ? 0 : 1)));
    const labels = src.map((row) => row.slice(0, 8).reverse());
    const { value, grads } = tf.variableGrads(
      () => model.loss(src, labels, { attentionMask: mask }),
      params.map(([, p]) => p.variable),
    );
    optimizer.step(new Map(Object.entries(grads).map(([v, g]) => [nameOf.get(v)!, g])));
    losses.push(value.dataSync()[0]);
    tf.dispose([value, ...Object.values(grads)]);
  }
  optimizer.dispose();
  model.dispose();
  return losses;
}
