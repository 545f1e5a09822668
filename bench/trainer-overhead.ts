/**
 * What the trainer's per-step statistics cost: ms/step of `train()` (AdamW, clipping, per-module
 * gradient norms and update ratios, one event per step) against a bare tfjs Adam `minimize` loop on
 * the same tiny GPT-2 batch, interleaved so the ratio is fair. Run: npx vite-node
 * bench/trainer-overhead.ts (env STEPS, BATCH, ROUNDS).
 */
import * as tf from "@tensorflow/tfjs";
import { ready, seed } from "../src/engine/index.js";
import { gpt2 } from "../src/models/index.js";
import { train, type TokenBatch } from "../src/train/index.js";

await ready({ backend: "wasm" });
const steps = Number(process.env.STEPS ?? 5);
const B = Number(process.env.BATCH ?? 8);
const rounds = Number(process.env.ROUNDS ?? 3);
seed(0);
const model = gpt2("tiny");
const T = model.config.nPositions;
const batch: TokenBatch = {
  inputIds: Int32Array.from({ length: B * T }, (_, i) => (i * 7) % 97),
  targets: Int32Array.from({ length: B * T }, (_, i) => ((i + 1) * 7) % 97),
  shape: [B, T],
};
const ids = tf.tensor2d(batch.inputIds, batch.shape, "int32");
const targets = tf.tensor2d(batch.targets, batch.shape, "int32");

async function bare(): Promise<number> {
  const optimizer = tf.train.adam(1e-3);
  const t0 = performance.now();
  for (let s = 0; s < steps; s++) {
    const loss = optimizer.minimize(() => model.loss(ids, targets), true, model.trainableVariables())!;
    await loss.data();
    loss.dispose();
  }
  const ms = (performance.now() - t0) / steps;
  optimizer.dispose();
  return ms;
}

async function trainer(): Promise<number> {
  const t0 = performance.now();
  await train(model, {
    data: (function* () {
      for (;;) yield batch;
    })(),
    steps,
    lr: 1e-3,
    progress: false,
  });
  return (performance.now() - t0) / steps;
}

const results: Record<string, number[]> = { bare: [], trainer: [] };
for (let r = 0; r < rounds; r++) {
  for (const [name, fn] of [
    ["bare", bare],
    ["trainer", trainer],
  ] as const) {
    await fn(); // warm-up
    results[name].push(await fn());
  }
}
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
console.log(`tiny GPT-2, B=${B} T=${T}, full fine-tuning, wasm, median of ${rounds} rounds x ${steps} steps`);
console.log(`bare tf.train.adam minimize: ${median(results.bare).toFixed(0)} ms/step`);
console.log(`train() with AdamW, clipping, per-module norms and update ratios: ${median(results.trainer).toFixed(0)} ms/step`);
console.log(`overhead: ${((median(results.trainer) / median(results.bare) - 1) * 100).toFixed(1)}%`);
