/**
 * quantizeModel: bitsandbytes' load_in_4bit on a built model — every Linear / Conv1D not in
 * skipModules becomes a Linear4bit — and prepareModelForKbitTraining, PEFT's helper: the same,
 * then the whole base frozen. Norms and embeddings are left in float32 (lora-lab has no lower
 * float dtype to upcast from).
 */
import { Conv1D, Linear, type Module } from "../nn/index.js";
import type { QuantType } from "./codes.js";
import { Linear4bit } from "./linear4bit.js";

export interface QuantizeModelOptions {
  quantType?: QuantType;
  blocksize?: number;
  doubleQuant?: boolean;
  /** Module names kept in float32: exact names or name suffixes after a dot; default ["lm_head"] (transformers' default). */
  skipModules?: string[];
}

function skipped(key: string, skip: string[]): boolean {
  return skip.some((s) => key === s || key.endsWith(`.${s}`));
}

/** Replaces the Linear / Conv1D layers in place; returns the model. Defaults: nf4, blocksize 64, double quant off. */
export function quantizeModel<M extends Module>(model: M, opts: QuantizeModelOptions = {}): M {
  const quantType = opts.quantType ?? "nf4";
  const skip = opts.skipModules ?? ["lm_head"];
  const targets = [...model.namedModules()].filter(([key, m]) => (m instanceof Linear || m instanceof Conv1D) && !skipped(key, skip));
  if (targets.length === 0) {
    const layers = [...model.namedModules()].filter(([, m]) => m instanceof Linear || m instanceof Conv1D).map(([k]) => k);
    throw new Error(
      `quantizeModel found no Linear / Conv1D layer to quantize (skipModules ${JSON.stringify(skip)}); linear layers: ${layers.join(", ") || "none"}`,
    );
  }
  const replaced = [];
  for (const [key, layer] of targets) {
    model.setSubmodule(
      key,
      Linear4bit.fromLayer(layer as Linear | Conv1D, {
        quantType,
        blocksize: opts.blocksize ?? 64,
        doubleQuant: opts.doubleQuant ?? false,
      }),
    );
    replaced.push(layer as Linear | Conv1D);
  }
  // Free the float weights, unless still used elsewhere (a tied weight kept by a skipped module).
  const live = new Set(model.parameters());
  for (const layer of replaced) if (!live.has(layer.weight)) layer.weight.dispose();
  return model;
}

/** PEFT's prepare_model_for_kbit_training on a quantized (or not yet quantized) base: quantizes if needed, freezes everything. */
export function prepareModelForKbitTraining<M extends Module>(model: M, opts: QuantizeModelOptions = {}): M {
  if (![...model.namedModules().values()].some((m) => m instanceof Linear4bit)) quantizeModel(model, opts);
  model.requiresGrad(false);
  return model;
}

/** The 4-bit layers of a model by name. */
export function linear4bitLayers(model: Module): Map<string, Linear4bit> {
  const out = new Map<string, Linear4bit>();
  for (const [key, m] of model.namedModules()) if (m instanceof Linear4bit) out.set(key, m);
  return out;
}

/** Parameters held in packed 4-bit storage, counted as PEFT does (uint8 numel * 2). */
export function packedParameterCount(model: Module): number {
  let n = 0;
  for (const m of linear4bitLayers(model).values()) n += m.packedParameterCount;
  return n;
}
