/**
 * The benchmark rows of issue 11: one training step (forward, backward, AdamW) of the tiny and the
 * small GPT-2 at B=8, full fine-tuning and LoRA r8 on the upper half's c_attn. bench/torch_step.py
 * builds the same models and steps for the PyTorch reference.
 */
import * as tf from "@tensorflow/tfjs";
import { seed } from "../src/engine/index.js";
import { GPT2Config, gpt2 } from "../src/models/index.js";
import { AdamW } from "../src/optim/index.js";
import { getPeftModel } from "../src/peft/index.js";

export type ModelSize = "tiny" | "small";
export type Mode = "full" | "lora";

export interface Row {
  id: string;
  label: string;
  size: ModelSize;
  mode: Mode;
}

export const ROWS: Row[] = [
  { id: "tiny-full", label: "tiny GPT (V256 T64 d128 L4 H4), full", size: "tiny", mode: "full" },
  { id: "tiny-lora", label: "tiny GPT, LoRA r8 upper-half c_attn", size: "tiny", mode: "lora" },
  { id: "small-full", label: "small GPT (V2048 T128 d256 L6 H8), full", size: "small", mode: "full" },
  { id: "small-lora", label: "small GPT, LoRA r8 upper-half c_attn", size: "small", mode: "lora" },
];

/** Model shapes, as in the issue (the presets, with the small model's vocabulary at 2048). */
export const SHAPES: Record<ModelSize, { vocabSize: number; nPositions: number; nEmbd: number; nLayer: number; nHead: number }> = {
  tiny: { vocabSize: 256, nPositions: 64, nEmbd: 128, nLayer: 4, nHead: 4 },
  small: { vocabSize: 2048, nPositions: 128, nEmbd: 256, nLayer: 6, nHead: 8 },
};

export interface StepRunner {
  row: Row;
  /** One full training step; resolves when its loss has been read back. */
  step(): Promise<number>;
  tokens: number;
  /** Forward + backward + update FLOPs of one step (matmuls only, the usual 6N/2N accounting). */
  flops: number;
  dispose(): void;
}

/** Matmul FLOPs of one step: forward 2mnk per product; backward 2x for trained weights, 1x (input grad) otherwise. */
export function stepFlops(size: ModelSize, mode: Mode, B: number): number {
  const { vocabSize: V, nPositions: T, nEmbd: d, nLayer: L, nHead: H } = SHAPES[size];
  const N = B * T;
  const lin = 2 * N * d * (3 * d + d + 4 * d + 4 * d); // c_attn, c_proj, c_fc, mlp.c_proj
  const attn = 2 * 2 * B * H * T * T * (d / H); // q k^T and att v
  const head = 2 * N * d * V;
  const fwd = L * (lin + attn) + head;
  if (mode === "full") return 3 * fwd;
  // LoRA: weight gradients only for the adapters (negligible); input gradients everywhere but the head's input grad still needed.
  return fwd + (L * (lin + 2 * attn) + head);
}

export function makeRow(row: Row, B = 8): StepRunner {
  seed(0);
  const shape = SHAPES[row.size];
  const base = gpt2(GPT2Config.preset(row.size, shape));
  const net = row.mode === "lora"
    ? getPeftModel(base, {
        r: 8, loraAlpha: 16, loraDropout: 0, targetModules: ["c_attn"], fanInFanOut: true,
        layersToTransform: Array.from({ length: shape.nLayer / 2 }, (_, i) => shape.nLayer / 2 + i),
      })
    : base;
  const named = net.namedParameters();
  const optimizer = new AdamW(named, { lr: 1e-4, weightDecay: 0.01 });
  const trainable = [...named.entries()].filter(([, p]) => p.requiresGrad);
  const variables = trainable.map(([, p]) => p.variable);
  const nameOf = new Map(trainable.map(([n, p]) => [p.variable.name, n]));
  const T = shape.nPositions;
  const ids = tf.tensor2d(Int32Array.from({ length: B * T }, (_, i) => (i * 7 + 3) % shape.vocabSize), [B, T], "int32");
  const targets = tf.tensor2d(Int32Array.from({ length: B * T }, (_, i) => ((i + 1) * 7 + 3) % shape.vocabSize), [B, T], "int32");
  net.train(true);
  return {
    row,
    tokens: B * T,
    flops: stepFlops(row.size, row.mode, B),
    async step() {
      const { value, grads } = tf.variableGrads(() => net.loss(ids, targets) as tf.Scalar, variables);
      const byName = new Map<string, tf.Tensor>();
      for (const [v, g] of Object.entries(grads)) byName.set(nameOf.get(v)!, g);
      optimizer.step(byName);
      tf.dispose(Object.values(grads));
      const loss = (await value.data())[0];
      value.dispose();
      return loss;
    },
    dispose() {
      optimizer.dispose();
      tf.dispose([ids, targets]);
      (net as unknown as { dispose?: () => void }).dispose?.();
    },
  };
}
