/**
 * Real-scale training runs (not in the suite): GPT-2 124M / 355M or a LLaMA preset, full
 * fine-tuning or LoRA / QLoRA, on random token windows. Prints the memory plan made before the
 * first step, each step's time, and at the end the peak tensor bytes, the wasm heap and the
 * process's peak RSS, as one JSON line.
 *
 *   npx vite-node bench/real-scale.ts -- --preset gpt2 --method full --batch 4 --seq 128 --steps 100 --checkpointing
 *   npx vite-node bench/real-scale.ts -- --preset gpt2 --batch 8 --seq 256 --optimizer paged_adamw --checkpointing
 *   npx vite-node bench/real-scale.ts -- --preset gpt2-medium --method qlora --batch 4 --seq 128 --steps 5
 */
import * as tf from "@tensorflow/tfjs";
import { parseArgs } from "node:util";
import * as lab from "../src/index.js";

const { values: a } = parseArgs({
  options: {
    preset: { type: "string", default: "gpt2" },
    method: { type: "string", default: "full" },
    batch: { type: "string", default: "4" },
    seq: { type: "string", default: "128" },
    steps: { type: "string", default: "3" },
    optimizer: { type: "string", default: "adamw" },
    accumulation: { type: "string", default: "1" },
    checkpointing: { type: "boolean", default: false },
    "no-memory-check": { type: "boolean", default: false },
  },
  allowPositionals: true,
});
const B = Number(a.batch);
const T = Number(a.seq);
const info = await lab.ready();
lab.seed(0);
const isLlama = a.preset in lab.LlamaConfig.presets;
const base: lab.Module = isLlama ? lab.llama(lab.LlamaConfig.preset(a.preset)) : lab.gpt2(lab.GPT2Config.preset(a.preset));
const V = (base as unknown as { config: { vocabSize: number } }).config.vocabSize;
let model: lab.Module = base;
if (a.method === "qlora") lab.quantizeModel(base as never, { quantType: "nf4", doubleQuant: true });
if (a.method === "lora" || a.method === "qlora") {
  model = lab.getPeftModel(base as never, new lab.LoraConfig({ r: 8, targetModules: isLlama ? ["q_proj", "v_proj"] : ["c_attn"] }));
}
if (a.checkpointing) lab.setGradientCheckpointing(model);
const optimizer = a.optimizer as lab.PlannedOptimizer;
const accumulation = Number(a.accumulation);
const plan = lab.memoryPlan(model, { batchSize: B, seqLen: T, optimizer, gradientAccumulationSteps: accumulation });
console.log(JSON.stringify(info));
console.log(lab.describePlan(plan));

const heap = () => ((tf.backend() as unknown as { wasm?: { HEAPU8: Uint8Array } }).wasm?.HEAPU8.buffer.byteLength ?? 0) / 2 ** 20;
let peakTensorBytes = 0;
const windows = Array.from({ length: 64 }, (_, i) => Array.from({ length: T + 1 }, (_, t) => (i * 7919 + t * 104729) % V));
const times: number[] = [];
let last = performance.now();
const result = await lab.train(model as never, {
  data: windows,
  batchSize: B,
  steps: Number(a.steps),
  lr: 1e-5,
  optimizer,
  gradientAccumulationSteps: accumulation,
  memoryCheck: !a["no-memory-check"],
  progress: false,
  onEvent: (e) => {
    if (e.type !== "step") return;
    const now = performance.now();
    times.push((now - last) / 1000);
    last = now;
    peakTensorBytes = Math.max(peakTensorBytes, tf.memory().numBytes);
    console.log(`step ${e.step} loss ${e.loss.toFixed(3)} ${times[times.length - 1].toFixed(1)} s  heap ${heap().toFixed(0)} MiB`);
  },
});
const steady = times.slice(1);
console.log(
  JSON.stringify({
    preset: a.preset,
    method: a.method,
    batch: B,
    seq: T,
    optimizer,
    checkpointing: a.checkpointing,
    steps: result.steps,
    firstStepSeconds: times[0],
    meanStepSeconds: steady.length ? steady.reduce((x, y) => x + y, 0) / steady.length : times[0],
    planGiB: plan.total / 2 ** 30,
    heapMiB: heap(),
    maxRssMiB: process.resourceUsage().maxRSS / 1024,
  }),
);
