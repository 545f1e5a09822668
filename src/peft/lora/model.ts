/**
 * The injector (PEFT's tuners/lora/model.py + tuners_utils.inject_adapter): walks the module
 * tree, wraps every targeted layer with the LoRA layer its dispatcher picks, wraps modulesToSave,
 * and sets which parameters train. Architecture-agnostic: only names and layer types matter.
 */
import type * as tf from "@tensorflow/tfjs";
import { Conv1D, Embedding, Linear, Module } from "../../nn/index.js";
import { Linear4bit } from "../../quant/linear4bit.js";
import { isExcluded, isTargeted, rankAndAlpha } from "../matching.js";
import { ModulesToSaveWrapper } from "../modules_to_save.js";
import type { InjectableModel, PeftBaseModel } from "../tuned_model.js";
import { DEFAULT_LORA_TARGET_MODULES, type LoraConfig } from "./config.js";
import { LoraEmbedding } from "./embedding.js";
import { LoraLayer, type LoraAdapterSpec } from "./layer.js";
import { LoraLinear } from "./linear.js";
import { LoraLinear4bit } from "./linear4bit.js";

/** PEFT's LoraModel: holds the base model as `model`, so names read `base_model.model.*` under PeftModel. */
export class LoraModel extends Module {
  readonly model: PeftBaseModel;

  constructor(model: PeftBaseModel) {
    super();
    this.model = this.registerModule("model", model);
  }

  forward(...args: unknown[]): tf.Tensor {
    return this.model.forward(...args);
  }
}

/** One entry of the ordered dispatch from a base layer to its LoRA layer (PEFT's dispatch_* functions). */
export interface LoraDispatcher {
  name: string;
  create(target: Module): LoraLayer | undefined;
}

/**
 * First match wins, so the quantized base goes in front of Linear (PEFT puts dispatch_bnb_4bit
 * before dispatch_default). A custom layer kind plugs in by adding an entry here.
 */
export const LORA_DISPATCHERS: LoraDispatcher[] = [
  // 4-bit storage, [out, in] like Linear (a quantized Conv1D was transposed by quantizeModel)
  { name: "Linear4bit", create: (m) => (m instanceof Linear4bit ? new LoraLinear4bit(m) : undefined) },
  { name: "Embedding", create: (m) => (m instanceof Embedding ? new LoraEmbedding(m) : undefined) },
  { name: "Conv1D", create: (m) => (m instanceof Conv1D ? new LoraLinear(m) : undefined) },
  { name: "Linear", create: (m) => (m instanceof Linear ? new LoraLinear(m) : undefined) },
];

/** Wraps `target` with the first dispatcher that accepts it; the error lists the supported types. */
export function createLoraLayer(target: Module, key: string): LoraLayer {
  for (const d of LORA_DISPATCHERS) {
    const layer = d.create(target);
    if (layer) return layer;
  }
  throw new Error(
    `Target module "${key}" (${target.typeName}) is not supported. Currently, only the following modules are supported: ` +
      `${LORA_DISPATCHERS.map((d) => d.name).join(", ")}`,
  );
}

/** Output embedding names excluded by "all-linear" (PEFT asks model.get_output_embeddings()). */
const OUTPUT_EMBEDDING_NAMES = ["lm_head"];

function isInsideWrapper(key: string, wrappers: Set<string>): boolean {
  for (const w of wrappers) if (key.startsWith(`${w}.`)) return true;
  return false;
}

/** The target list or regex the config means for this model: its own, the model's default, or all linear layers. */
export function resolveTargetModules(model: InjectableModel, config: LoraConfig): string[] | string {
  const t = config.targetModules;
  if (t === undefined) {
    const type = model.config?.modelType;
    const found = type === undefined ? undefined : DEFAULT_LORA_TARGET_MODULES[type];
    if (!found) {
      throw new Error(
        `Please specify targetModules in the LoraConfig: model_type ${JSON.stringify(type)} has no default; ` +
          `defaults exist for ${Object.keys(DEFAULT_LORA_TARGET_MODULES).join(", ")}`,
      );
    }
    return [...found];
  }
  if (typeof t === "string" && t.toLowerCase() === "all-linear") {
    // PEFT resolves "all-linear" to the full names of every Linear / Conv1D but the output embedding.
    const names: string[] = [];
    for (const [key, m] of model.namedModules()) {
      if ((m instanceof Linear || m instanceof Conv1D || m instanceof Linear4bit) && !OUTPUT_EMBEDDING_NAMES.includes(key)) names.push(key);
    }
    return names;
  }
  return t;
}

/** Every module name the config targets, in tree order, with exclusions applied. */
export function findTargets(model: InjectableModel, config: LoraConfig): { targets: string[]; resolved: string[] | string } {
  const resolved = resolveTargetModules(model, config);
  const rules = {
    excludeModules: config.excludeModules,
    modulesToSave: config.modulesToSave,
    layersToTransform: config.layersToTransform,
    layersPattern: config.layersPattern,
    targetModules: resolved,
  };
  const wrappers = new Set<string>();
  const targets: string[] = [];
  let excluded = 0;
  for (const [key, m] of model.namedModules()) {
    if (m instanceof LoraLayer || m instanceof ModulesToSaveWrapper) wrappers.add(key);
    else if (isInsideWrapper(key, wrappers)) continue;
    if (isExcluded(rules, key)) {
      excluded++;
      continue;
    }
    if (isTargeted(rules, key)) targets.push(key);
  }
  if (targets.length === 0) {
    const leaves = [
      ...new Set([...model.namedModules().keys()].map((k) => k.slice(k.lastIndexOf(".") + 1)).filter((k) => !/^\d+$/.test(k))),
    ];
    const why = excluded > 0 ? "all matching modules were excluded by excludeModules" : "no module name matches";
    const layers = config.layersToTransform !== undefined ? ` with layersToTransform ${JSON.stringify(config.layersToTransform)}` : "";
    throw new Error(
      `Target modules ${JSON.stringify(resolved)} not found in the base model${layers} (${why}). ` +
        `Module names end with: ${leaves.join(", ")}`,
    );
  }
  return { targets, resolved };
}

/** Wraps (or extends) every target with adapter `adapterName`; returns the wrapped names. */
export function injectLora(
  model: InjectableModel,
  config: LoraConfig,
  adapterName: string,
  outputRanges?: (key: string) => Array<[number, number]> | undefined,
): string[] {
  const { targets, resolved } = findTargets(model, config);
  // As PEFT does, the config keeps the resolved list (the model's default, "all-linear" spelled out), so it is saved.
  config.targetModules = resolved;
  for (const key of targets) {
    const { r, alpha } = rankAndAlpha(config, key);
    const spec: LoraAdapterSpec = {
      r,
      alpha,
      dropout: config.loraDropout,
      useRslora: config.useRslora,
      initLoraWeights: config.initLoraWeights,
      useDora: config.useDora,
      outputRanges: outputRanges?.(key),
    };
    const target = model.getSubmodule(key);
    if (target instanceof LoraLayer) {
      target.updateLayer(adapterName, spec);
      continue;
    }
    const layer = createLoraLayer(target, key);
    if (layer.kind === "conv1d" && !config.fanInFanOut) {
      // PEFT warns and forces fan_in_fan_out=True for GPT-2's Conv1D; the flag lives on the layer.
      warnOnce("fan_in_fan_out is set to False but the target module is `Conv1D`. Setting fan_in_fan_out to True.");
      config.fanInFanOut = true; // PEFT changes the config too, so the saved adapter_config.json says true
    }
    layer.updateLayer(adapterName, spec);
    model.setSubmodule(key, layer);
  }
  for (const name of config.modulesToSave ?? []) {
    let found = false;
    for (const [key, m] of model.namedModules()) {
      if (!(key === name || key.endsWith(`.${name}`))) continue;
      found = true;
      if (m instanceof ModulesToSaveWrapper) m.update(adapterName);
      else if (!(m instanceof LoraLayer)) model.setSubmodule(key, new ModulesToSaveWrapper(m, adapterName));
    }
    if (!found) throw new Error(`modulesToSave entry "${name}" matches no module; modules: ${[...model.namedModules().keys()].join(", ")}`);
  }
  return targets;
}

const warned = new Set<string>();
function warnOnce(msg: string): void {
  if (warned.has(msg)) return;
  warned.add(msg);
  console.warn(`lora-lab: ${msg}`);
}

/** LoRA layers and modulesToSave wrappers of a tree, by name. */
export function adapterLayers(model: Module): { lora: Map<string, LoraLayer>; saved: Map<string, ModulesToSaveWrapper> } {
  const lora = new Map<string, LoraLayer>();
  const saved = new Map<string, ModulesToSaveWrapper>();
  for (const [key, m] of model.namedModules()) {
    if (m instanceof LoraLayer) lora.set(key, m);
    if (m instanceof ModulesToSaveWrapper) saved.set(key, m);
  }
  return { lora, saved };
}

/**
 * PEFT's _mark_only_adapters_as_trainable for the active adapter: everything frozen except its
 * LoRA weights, its modulesToSave copies, and biases by `bias`.
 */
export function markOnlyAdapterTrainable(model: Module, adapterName: string, bias: LoraConfig["bias"]): void {
  model.requiresGrad(false);
  const { lora, saved } = adapterLayers(model);
  for (const layer of lora.values()) {
    for (const part of [layer.lora_A.get(adapterName), layer.lora_B.get(adapterName), layer.lora_magnitude_vector.get(adapterName)])
      part?.requiresGrad(true);
    for (const p of [layer.lora_embedding_A.get(adapterName), layer.lora_embedding_B.get(adapterName)]) if (p) p.requiresGrad = true;
    if (bias === "lora_only") {
      const b = layer.base_layer.ownParameters().get("bias");
      if (b) b.requiresGrad = true;
    }
  }
  if (bias === "all") for (const [name, p] of model.namedParameters()) if (name.includes("bias")) p.requiresGrad = true;
  for (const w of saved.values()) w.modules_to_save.get(adapterName)?.requiresGrad(true);
}
