/** The prefix-tuning injector: learned prefixes in every GPT-2-style attention layer, everything else frozen. */
import { TunedModel, type PeftBaseModel } from "../tuned_model.js";
import { PrefixTuningConfig, type PrefixTuningConfigFields } from "./config.js";
import { isAttentionWithPast, PrefixAttention, type AttentionWithPast } from "./layer.js";

/** Adds learned prefixes to every attention layer and freezes the rest (getPeftModel with a PrefixTuningConfig). */
export function injectPrefixTuning(model: PeftBaseModel, config: PrefixTuningConfig): TunedModel {
  const targets = [...model.namedModules()].filter((e): e is [string, AttentionWithPast] => isAttentionWithPast(e[1]));
  if (targets.length === 0) {
    const types = [...new Set([...model.namedModules().values()].map((m) => m.typeName))];
    throw new Error(
      `prefix tuning: no supported attention layer (GPT-2's fused c_attn attention) in this model; module types: ${types.join(", ")}`,
    );
  }
  const hidden = (model.config as { nEmbd?: number } | undefined)?.nEmbd;
  if (!hidden) throw new Error("prefix tuning: the model config has no nEmbd");
  model.requiresGrad(false);
  for (const [key, attention] of targets) model.setSubmodule(key, new PrefixAttention(attention, config.numVirtualTokens, hidden));
  return new TunedModel(model, "prefix tuning");
}

/** The notebooks' spelling of getPeftModel(model, new PrefixTuningConfig(fields)). */
export function getPrefixTuningModel(model: PeftBaseModel, fields: Partial<PrefixTuningConfigFields> = {}): TunedModel {
  return injectPrefixTuning(model, new PrefixTuningConfig(fields));
}
