/**
 * lora-lab: fine-tune GPT-2 and T5 style models with LoRA / QLoRA in TypeScript notebooks, and
 * watch what they learn and forget. Each concept lives in its own module; this file is the
 * public face (`import * as lab from "lora-lab"`).
 */
export * from "./engine/index.js";
export * from "./nn/index.js";
export * from "./io/index.js";
export * from "./tokenizers/index.js";
export * from "./data/index.js";
export * from "./models/index.js";
export * from "./quant/index.js";
export * from "./peft/index.js";
export * from "./optim/index.js";
export * from "./train/index.js";
export * from "./inspect/index.js";
export * from "./forgetting/index.js";
export * from "./plot/index.js";
export * from "./prune/index.js";
