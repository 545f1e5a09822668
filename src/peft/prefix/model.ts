/** The prefix-tuning injector: learned prefixes in every attention layer (GPT-2's or the LLaMA family's), everything else frozen. */
import type { Module } from "../../nn/index.js";
import { TunedModel, type PeftBaseModel } from "../tuned_model.js";
import { PrefixTuningConfig, type PrefixTuningConfigFields } from "./config.js";
import { isAttentionWithPast, isGroupedQueryAttention, PrefixAttention, PrefixGroupedAttention } from "./layer.js";

/** The prefixed attention for `attention`, or undefined when prefix tuning does not know its kind. */
function prefixed(attention: Module, config: PrefixTuningConfig, model: PeftBaseModel): Module | undefined {
  const P = config.numVirtualTokens;
  if (isGroupedQueryAttention(attention)) return new PrefixGroupedAttention(attention, P);
  if (!isAttentionWithPast(attention)) return undefined;
  const hidden = (model.config as { nEmbd?: number } | undefined)?.nEmbd;
  if (!hidden) throw new Error("prefix tuning: the model config has no nEmbd (GPT-2's hidden size)");
  return new PrefixAttention(attention, P, hidden);
}

/** Adds learned prefixes to every attention layer and freezes the rest (getPeftModel with a PrefixTuningConfig). */
export function injectPrefixTuning(model: PeftBaseModel, config: PrefixTuningConfig): TunedModel {
  const targets = [...model.namedModules()].filter(([, m]) => isGroupedQueryAttention(m) || isAttentionWithPast(m));
  if (targets.length === 0) {
    const types = [...new Set([...model.namedModules().values()].map((m) => m.typeName))];
    throw new Error(
      "prefix tuning: no supported attention layer (GPT-2's fused c_attn attention, or the LLaMA family's grouped-query " +
        `q/k/v/o_proj attention) in this model; module types: ${types.join(", ")}`,
    );
  }
  const layers = targets.map(([key, attention]) => [key, prefixed(attention, config, model)!] as const);
  model.requiresGrad(false);
  for (const [key, layer] of layers) model.setSubmodule(key, layer);
  return new TunedModel(model, "prefix tuning");
}

/** The notebooks' spelling of getPeftModel(model, new PrefixTuningConfig(fields)). */
export function getPrefixTuningModel(model: PeftBaseModel, fields: Partial<PrefixTuningConfigFields> = {}): TunedModel {
  return injectPrefixTuning(model, new PrefixTuningConfig(fields));
}
