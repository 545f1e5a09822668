/**
 * peft: Hugging Face PEFT's workflow. One entry point, getPeftModel, whose config picks the method;
 * LoRA laid out as PEFT's tuners/lora; the other methods beside it; layer plans on top.
 */

// The entry point and the models it returns
export { getPeftModel } from "./mapping.js";
export type { PeftConfig } from "./mapping.js";
export { PeftModel } from "./peft_model.js";
export type { AdapterOptions, FromPretrainedOptions as PeftFromPretrainedOptions } from "./peft_model.js";
export { TunedModel, trainableParametersLine } from "./tuned_model.js";
export type { PeftBaseModel, InjectableModel, SwitchableAdapter } from "./tuned_model.js";

// Which modules a config targets (PEFT's rules)
export { isTargeted, isExcluded, patternKey, rankAndAlpha } from "./matching.js";
export type { TargetRules } from "./matching.js";
export { ModulesToSaveWrapper } from "./modules_to_save.js";

// LoRA
export * from "./lora/index.js";

// Other methods
export * from "./bottleneck/index.js";
export * from "./prefix/index.js";

// Layer plans
export * from "./plan/index.js";
