/**
 * lora-lab: fine-tune GPT-2, T5 and LLaMA-style models with LoRA / QLoRA in TypeScript notebooks,
 * and watch what they learn and forget. Each concept lives in its own module; this file is the
 * public face (`import * as lab from "lora-lab"`), one line a concept, in the order data flows.
 */
export * from "./engine/index.js"; // backends, seeding, fused kernels, the leak guard
export * from "./nn/index.js"; // Module tree with Hugging Face names, layers
export * from "./io/index.js"; // safetensors, atomic writes, config tables
export * from "./tokenizers/index.js"; // byte-level and Hugging Face tokenizers
export * from "./data/index.js"; // Brown corpus, splits, windows, batches
export * from "./models/index.js"; // GPT-2, T5, LLaMA, BART; fromPretrained, generation
export * from "./quant/index.js"; // NF4 / FP4 quantization, memory estimates
export * from "./peft/index.js"; // LoRA and the other adapters, layer plans, PEFT files
export * from "./optim/index.js"; // AdamW (plain, paged, 8-bit), schedules, param groups
export * from "./train/index.js"; // the training loop, its events and guards
export * from "./inspect/index.js"; // rank of weight updates, per-layer summaries
export * from "./forgetting/index.js"; // retention, strategies, mitigations, studies
export * from "./plot/index.js"; // Plotly figure builders and the HTML report
export * from "./prune/index.js"; // magnitude pruning
