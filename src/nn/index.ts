export { Module } from "./module.js";
export type { LoadStateDictOptions, LoadStateDictResult } from "./module.js";
export { Parameter } from "./parameter.js";
export { Linear, Conv1D, Embedding, LayerNorm, Dropout, ModuleList, lmHead } from "./layers.js";
export type { LinearOptions } from "./layers.js";
export { init } from "./init.js";
export { linearInOut, linearOutIn, geluNew, gelu, layerNorm, crossEntropy, activation, ACTIVATIONS } from "./functional.js";
export { RMSNorm, rmsNorm } from "./rmsnorm.js";
export { layerIndexOf, LAYERS_PATTERNS } from "./layer_index.js";
