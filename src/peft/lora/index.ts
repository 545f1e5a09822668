/** LoRA as PEFT's tuners/lora: config, layers by base kind, injector, PEFT-format files. */
export { LoraConfig, DEFAULT_LORA_TARGET_MODULES, TASK_TYPES } from "./config.js";
export type { LoraConfigFields, TaskType, LoraBias, LoraInit } from "./config.js";
export { LoraLayer } from "./layer.js";
export type { LoraAdapterSpec, LoraBaseKind } from "./layer.js";
export { LoraLinear } from "./linear.js";
export { LoraEmbedding } from "./embedding.js";
export { LoraLinear4bit } from "./linear4bit.js";
export { FUSED_QKV_NAMES } from "./fused_qkv.js";
export type { QkvPart } from "./fused_qkv.js";
export { topSingularTriplets } from "./svd.js";
export {
  LoraModel,
  LORA_DISPATCHERS,
  createLoraLayer,
  resolveTargetModules,
  findTargets,
  injectLora,
  adapterLayers,
  markOnlyAdapterTrainable,
} from "./model.js";
export type { LoraDispatcher } from "./model.js";
export { adapterParameters } from "./state_dict.js";
export { ADAPTER_CONFIG_NAME, ADAPTER_WEIGHTS_NAME } from "./files.js";
export type { SaveAdapterOptions } from "./files.js";
