/**
 * Bottleneck adapters (Houlsby et al. 2019): after a sublayer (attention, MLP) and before its
 * residual add, h -> h + up(act(down(h))), with `up` zero-initialised so training starts from the
 * base model. PEFT has no such tuner; this follows the paper and AdapterHub's placement.
 */
import * as tf from "@tensorflow/tfjs";
import { activation, init, Linear, Module } from "../nn/index.js";
import type { PeftBaseModel } from "./peft_model.js";
import { isTargeted } from "./matching.js";
import { TunedModel } from "./tuned_model.js";

/**
 * Where the adapters go, by model_type: the output projections of attention and MLP, whose output
 * is the sublayer's output (wrapping the projection leaves the attention module's other methods,
 * such as T5's computeBias, untouched).
 */
export const DEFAULT_BOTTLENECK_TARGETS: Record<string, string[]> = {
  gpt2: ["attn.c_proj", "mlp.c_proj"],
  t5: ["o", "wo"],
};

export interface BottleneckConfigFields {
  /** Width of the bottleneck. Default 64. */
  bottleneckSize: number;
  /** Module names (PEFT's list rules); default the model's attention and MLP sublayers. */
  targetModules?: string[];
  /** Activation between down and up. Default "relu". */
  activation: string;
  /** Hidden size of the targets' outputs; default the model config's nEmbd or dModel. */
  hiddenSize?: number;
}

export class BottleneckAdapter extends Module {
  readonly adapter_down: Linear;
  readonly adapter_up: Linear;
  private readonly act: (x: tf.Tensor) => tf.Tensor;

  constructor(hidden: number, bottleneck: number, act: string) {
    super();
    this.adapter_down = this.registerModule("adapter_down", new Linear(hidden, bottleneck));
    this.adapter_up = this.registerModule("adapter_up", new Linear(bottleneck, hidden));
    for (const p of this.adapter_up.parameters()) {
      const z = init.zeros(p.shape);
      p.assign(z);
      z.dispose();
    }
    this.act = activation(act);
  }

  forward(h: tf.Tensor): tf.Tensor {
    return tf.tidy(() => h.add(this.adapter_up.forward(this.act(this.adapter_down.forward(h)))));
  }
}

/** `base_layer` followed by its adapter. */
export class BottleneckLayer extends Module {
  readonly base_layer: Module;
  readonly adapter: BottleneckAdapter;
  disableAdapters = false;

  constructor(base: Module, adapter: BottleneckAdapter) {
    super();
    this.base_layer = this.registerModule("base_layer", base);
    this.adapter = this.registerModule("adapter", adapter);
  }

  forward(...args: unknown[]): tf.Tensor {
    const y = (this.base_layer as unknown as { forward(...a: unknown[]): unknown }).forward(...args);
    if (!(y instanceof tf.Tensor)) throw new Error(`bottleneck adapter: ${this.base_layer.typeName}.forward does not return a tensor`);
    if (this.disableAdapters) return y;
    const out = this.adapter.forward(y);
    y.dispose();
    return out;
  }
}

function hiddenSizeOf(model: PeftBaseModel, given?: number): number {
  const cfg = model.config as { nEmbd?: number; dModel?: number } | undefined;
  const h = given ?? cfg?.nEmbd ?? cfg?.dModel;
  if (!h) throw new Error("bottleneck adapters: pass hiddenSize; the model config has neither nEmbd nor dModel");
  return h;
}

/** Adds an adapter after every target sublayer and freezes the rest. */
export function getBottleneckModel(model: PeftBaseModel, fields: Partial<BottleneckConfigFields> = {}): TunedModel {
  const size = fields.bottleneckSize ?? 64;
  if (!Number.isInteger(size) || size <= 0) throw new Error(`bottleneckSize must be a positive integer, got ${size}`);
  const type = model.config?.modelType ?? "";
  const targets = fields.targetModules ?? DEFAULT_BOTTLENECK_TARGETS[type];
  if (!targets) throw new Error(`bottleneck adapters: pass targetModules; no default for model_type "${type}" (defaults: ${Object.keys(DEFAULT_BOTTLENECK_TARGETS).join(", ")})`);
  const hidden = hiddenSizeOf(model, fields.hiddenSize);
  const keys = [...model.namedModules().keys()].filter((k) => isTargeted({ targetModules: targets }, k));
  if (keys.length === 0) throw new Error(`bottleneck adapters: targets ${JSON.stringify(targets)} match no module; modules: ${[...model.namedModules().keys()].slice(0, 20).join(", ")}, ...`);
  model.requiresGrad(false);
  for (const key of keys) model.setSubmodule(key, new BottleneckLayer(model.getSubmodule(key), new BottleneckAdapter(hidden, size, fields.activation ?? "relu")));
  return new TunedModel(model, "bottleneck adapters");
}
