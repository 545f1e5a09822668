/**
 * getPeftModel (PEFT's mapping.py get_peft_model): the config's class picks the method, the
 * method's injector wraps the base model's layers and freezes the rest.
 */
import { BottleneckConfig } from "./bottleneck/config.js";
import { injectBottleneck } from "./bottleneck/model.js";
import { LoraConfig, type LoraConfigFields } from "./lora/config.js";
import { PeftModel, type AdapterOptions } from "./peft_model.js";
import { PrefixTuningConfig } from "./prefix/config.js";
import { injectPrefixTuning } from "./prefix/model.js";
import type { PeftBaseModel, TunedModel } from "./tuned_model.js";

/** Every config getPeftModel accepts; a plain object means LoraConfig fields. */
export type PeftConfig = LoraConfig | Partial<LoraConfigFields> | BottleneckConfig | PrefixTuningConfig;

/** LoRA (a LoraConfig or its fields): a PeftModel whose adapters can be saved, merged and switched. */
export function getPeftModel(
  model: PeftBaseModel,
  config: LoraConfig | Partial<LoraConfigFields>,
  adapterName?: string,
  opts?: AdapterOptions,
): PeftModel;
/** Bottleneck adapters or prefix tuning: a TunedModel (forward, counts, disableAdapter). */
export function getPeftModel(model: PeftBaseModel, config: BottleneckConfig | PrefixTuningConfig): TunedModel;
export function getPeftModel(model: PeftBaseModel, config: PeftConfig, adapterName = "default", opts: AdapterOptions = {}): TunedModel {
  if (model instanceof PeftModel) throw new Error("getPeftModel: the model already has adapters; use addAdapter on it");
  if (config instanceof BottleneckConfig) return injectBottleneck(model, config);
  if (config instanceof PrefixTuningConfig) return injectPrefixTuning(model, config);
  return new PeftModel(model, config instanceof LoraConfig ? config : new LoraConfig(config), adapterName, opts);
}
