/** The bottleneck injector: an adapter after every target sublayer, everything else frozen. */
import { isTargeted } from "../matching.js";
import { TunedModel, type PeftBaseModel } from "../tuned_model.js";
import { BottleneckConfig, DEFAULT_BOTTLENECK_TARGETS, type BottleneckConfigFields } from "./config.js";
import { BottleneckAdapter, BottleneckLayer } from "./layer.js";

function hiddenSizeOf(model: PeftBaseModel, given?: number): number {
  const cfg = model.config as { nEmbd?: number; dModel?: number; hiddenSize?: number } | undefined;
  const h = given ?? cfg?.nEmbd ?? cfg?.dModel ?? cfg?.hiddenSize;
  if (!h) throw new Error("bottleneck adapters: pass hiddenSize; the model config has none of nEmbd, dModel, hiddenSize");
  return h;
}

/** Adds an adapter after every target sublayer and freezes the rest (getPeftModel with a BottleneckConfig). */
export function injectBottleneck(model: PeftBaseModel, config: BottleneckConfig): TunedModel {
  const type = model.config?.modelType ?? "";
  const targets = config.targetModules ?? DEFAULT_BOTTLENECK_TARGETS[type];
  if (!targets)
    throw new Error(
      `bottleneck adapters: pass targetModules; no default for model_type "${type}" (defaults: ${Object.keys(DEFAULT_BOTTLENECK_TARGETS).join(", ")})`,
    );
  const hidden = hiddenSizeOf(model, config.hiddenSize);
  const keys = [...model.namedModules().keys()].filter((k) => isTargeted({ targetModules: targets }, k));
  if (keys.length === 0)
    throw new Error(
      `bottleneck adapters: targets ${JSON.stringify(targets)} match no module; modules: ${[...model.namedModules().keys()].slice(0, 20).join(", ")}, ...`,
    );
  model.requiresGrad(false);
  for (const key of keys)
    model.setSubmodule(
      key,
      new BottleneckLayer(model.getSubmodule(key), new BottleneckAdapter(hidden, config.bottleneckSize, config.activation)),
    );
  return new TunedModel(model, "bottleneck adapters");
}

/** The notebooks' spelling of getPeftModel(model, new BottleneckConfig(fields)). */
export function getBottleneckModel(model: PeftBaseModel, fields: Partial<BottleneckConfigFields> = {}): TunedModel {
  return injectBottleneck(model, new BottleneckConfig(fields));
}
