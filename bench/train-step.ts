/**
 * Training-step time of the tiny GPT-2 on the wasm backend, with the transposed-matmul fast path
 * on and off, interleaved in one run so the ratio is fair. Run: npx vite-node bench/train-step.ts
 * (env STEPS, BATCH, ROUNDS).
 */
import * as tf from "@tensorflow/tfjs";
import { ready, seed, setWasmMatMulFastPath } from "../src/engine/index.js";
import { gpt2 } from "../src/models/index.js";

await ready({ backend: "wasm" });
const steps = Number(process.env.STEPS ?? 5);
const B = Number(process.env.BATCH ?? 8);
const rounds = Number(process.env.ROUNDS ?? 3);
seed(0);
const model = gpt2("tiny");
const T = model.config.nPositions;
const ids = tf.tensor2d(Array.from({ length: B * T }, (_, i) => (i * 7) % 97), [B, T], "int32");
const targets = tf.tensor2d(Array.from({ length: B * T }, (_, i) => ((i + 1) * 7) % 97), [B, T], "int32");
const optimizer = tf.train.adam(1e-3);

async function timeSteps(): Promise<number> {
  const times: number[] = [];
  for (let s = 0; s < steps; s++) {
    const t0 = performance.now();
    const loss = optimizer.minimize(() => model.loss(ids, targets), true, model.trainableVariables())!;
    await loss.data();
    loss.dispose();
    times.push(performance.now() - t0);
  }
  return times.sort((a, b) => a - b)[Math.floor(times.length / 2)];
}

const results: Record<string, number[]> = { fast: [], stock: [] };
for (let r = 0; r < rounds; r++) {
  for (const mode of ["stock", "fast"] as const) {
    setWasmMatMulFastPath(mode === "fast");
    await timeSteps(); // warm-up
    results[mode].push(await timeSteps());
  }
}
const median = (xs: number[]) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const stock = median(results.stock);
const fast = median(results.fast);
console.log(`tiny GPT-2, B=${B} T=${T}, full fine-tuning, Adam, wasm, median of ${rounds} rounds x ${steps} steps`);
console.log(`stock tfjs-backend-wasm BatchMatMul: ${stock.toFixed(0)} ms/step`);
console.log(`transposes moved out of the product: ${fast.toFixed(0)} ms/step`);
console.log(`speed-up: ${(stock / fast).toFixed(2)}x`);
