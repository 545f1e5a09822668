/**
 * The QLoRA paper's memory claim from lora-lab's estimator: fine-tuning LLaMA shapes in full 16-bit
 * (weights + gradients at 2 bytes, 32-bit AdamW states: 12 bytes/param) against QLoRA (NF4 with
 * double quantization at 4.127 bits/param, bf16 LoRA r 64 on every linear layer, paged 32-bit AdamW,
 * gradient checkpointing, batch 1, 512 tokens). Formulas: the doc comment of src/quant/memory.ts.
 * Run: npx vite-node bench/memory-table.ts
 */
import { estimateMemory, type EstimateMemoryOptions } from "../src/quant/memory.js";

const GB = 1e9;
const common: Partial<EstimateMemoryOptions> = { dtype: "bfloat16", batchSize: 1, seqLen: 512, gradientCheckpointing: true };
const rows: string[][] = [
  [
    "model",
    "params",
    "method",
    "weights",
    "adapters",
    "grads",
    "optim (device)",
    "optim (host)",
    "activations",
    "total (device)",
    "fits 48 GB",
  ],
];
for (const model of ["llama-7b", "llama-13b", "llama-33b", "llama-65b"]) {
  for (const [label, opts] of [
    ["full 16-bit", { method: "full", optimizer: "adamw" }],
    ["lora r64", { method: "lora", r: 64, targetModules: "all-linear", optimizer: "adamw" }],
    ["qlora r64", { method: "qlora", r: 64, targetModules: "all-linear", optimizer: "paged" }],
  ] as const) {
    const e = estimateMemory({ ...common, model, ...opts } as EstimateMemoryOptions);
    const f = (b: number) => (b / GB).toFixed(2);
    rows.push([
      model,
      `${(e.parameters / 1e9).toFixed(2)}B`,
      label,
      f(e.weights),
      f(e.adapters),
      f(e.gradients),
      f(e.optimizerStates),
      f(e.hostOptimizerStates),
      f(e.activations),
      f(e.total),
      e.total <= 48 * GB ? "yes" : "no",
    ]);
  }
}
const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
console.log("GB (1e9 bytes); batch 1, seq 512, gradient checkpointing, bf16 where not 4-bit\n");
for (const [i, r] of rows.entries()) {
  console.log(r.map((cell, c) => (c < 3 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join("  "));
  if (i === 0) console.log(widths.map((w) => "-".repeat(w)).join("  "));
}
