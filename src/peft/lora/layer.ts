/**
 * The LoRA layer (PEFT's tuners/lora/layer.py LoraLayer): the wrapped layer stays as `base_layer`
 * and every adapter adds a low-rank update to its output,
 *
 *   y = base_layer(x) + lora_B(lora_A(dropout(x))) * scaling,   scaling = lora_alpha / r
 *                                                                (lora_alpha / sqrt(r) with rsLoRA)
 *
 * with lora_B zero at init, so training starts from the base model. Merging adds
 * scaling * B A into the base weight. This file holds what every base layer kind shares; the kinds
 * (linear.ts: Linear and GPT-2's Conv1D; embedding.ts; linear4bit.ts: the 4-bit quantized base)
 * say how their adapter is built and where its update goes, and model.ts picks one per layer.
 */
import * as tf from "@tensorflow/tfjs";
import { Linear, Module, type Parameter } from "../../nn/index.js";
import { AdapterModules, AdapterParameters } from "../containers.js";
import type { LoraInit } from "./config.js";
import type { DoraMagnitude } from "./dora.js";

export interface LoraAdapterSpec {
  r: number;
  alpha: number;
  dropout: number;
  useRslora: boolean;
  initLoraWeights: LoraInit;
  useDora?: boolean;
  /**
   * Output ranges [start, end) that the adapter writes to; the others get no update. lora-lab's
   * option for LoRA on Q and V only inside GPT-2's fused c_attn; undefined means every output.
   */
  outputRanges?: Array<[number, number]>;
}

export type LoraBaseKind = "linear" | "conv1d" | "embedding";

type Forward = { forward(x: tf.Tensor): tf.Tensor };

export abstract class LoraLayer extends Module {
  readonly base_layer: Module;
  readonly lora_dropout = new AdapterModules();
  readonly lora_A = new AdapterModules<Linear>();
  readonly lora_B = new AdapterModules<Linear>();
  readonly lora_embedding_A = new AdapterParameters();
  readonly lora_embedding_B = new AdapterParameters();
  readonly lora_magnitude_vector = new AdapterModules<DoraMagnitude>();
  /** True when the base weight is stored [in, out] (GPT-2's Conv1D, and embeddings' [num, dim] for the delta). */
  readonly fanInFanOut: boolean;
  readonly specs = new Map<string, LoraAdapterSpec>();
  readonly scaling = new Map<string, number>();
  activeAdapters: string[] = [];
  /** Adapters whose delta is currently added into the base weight. */
  readonly mergedAdapters: string[] = [];
  disableAdapters = false;

  constructor(
    base: Module,
    readonly kind: LoraBaseKind,
    readonly inFeatures: number,
    readonly outFeatures: number,
  ) {
    super();
    this.base_layer = this.registerModule("base_layer", base);
    this.fanInFanOut = kind !== "linear";
  }

  forward(x: tf.Tensor): tf.Tensor {
    const base = this.base_layer as unknown as Forward;
    if (this.disableAdapters) {
      if (this.merged) this.unmerge();
      return base.forward(x);
    }
    if (this.merged) return base.forward(x);
    return tf.tidy(() => {
      let y = base.forward(x);
      for (const name of this.activeAdapters) {
        const s = this.scaling.get(name);
        if (s !== undefined) y = y.add(this.adapterOutput(name, x, s));
      }
      return y;
    });
  }

  /** What adapter `name` adds to base_layer(x): lora_B(lora_A(dropout(x))) * scaling, placed by `placeUpdate`. */
  protected adapterOutput(name: string, x: tf.Tensor, scaling: number): tf.Tensor {
    const xd = (this.lora_dropout.get(name) as unknown as Forward).forward(x);
    const update = this.lora_B.get(name)!.forward(this.lora_A.get(name)!.forward(xd)).mul(scaling); // [..., r out]
    return this.placeUpdate(name, update, xd);
  }

  /** The update as it is added to the output; the kinds with partial or DoRA adapters change it. */
  protected placeUpdate(_name: string, update: tf.Tensor, _xd: tf.Tensor): tf.Tensor {
    return update;
  }

  /** B A of adapter `name` as [out, in], before scaling. */
  protected abstract loraProduct(name: string): tf.Tensor;

  /** Builds adapter `name`'s weights (PEFT's update_layer after the shared bookkeeping). */
  protected abstract createAdapter(name: string, spec: LoraAdapterSpec): void;

  /** Throws when this kind cannot hold `spec`. */
  protected checkSpec(_spec: LoraAdapterSpec): void {}

  /** The float weight that merging changes; the 4-bit base has none. */
  get baseWeight(): tf.Variable {
    return (this.base_layer as unknown as { weight: Parameter }).weight.variable;
  }

  /** Adds adapter `name` (PEFT's update_layer) and makes it the active one. */
  updateLayer(name: string, spec: LoraAdapterSpec): void {
    if (this.specs.has(name))
      throw new Error(`adapter "${name}" already exists on this layer; adapters: ${[...this.specs.keys()].join(", ")}`);
    this.checkSpec(spec);
    this.specs.set(name, spec);
    this.scaling.set(name, spec.useRslora ? spec.alpha / Math.sqrt(spec.r) : spec.alpha / spec.r);
    this.createAdapter(name, spec);
    this.train(this.training);
    this.activeAdapters = [name];
  }

  /** scaling * B A as the base weight is stored ([out, in] for Linear, [in, out] for Conv1D, [num, dim] for Embedding). */
  deltaWeight(name: string): tf.Tensor {
    return tf.tidy(() => {
      const s = this.scaling.get(name);
      if (s === undefined) throw new Error(`no adapter "${name}" on this layer; adapters: ${[...this.specs.keys()].join(", ")}`);
      const delta = this.loraProduct(name).mul(s); // [out, in]
      return this.fanInFanOut ? delta.transpose() : delta;
    });
  }

  merge(names: string[] = this.activeAdapters): void {
    for (const name of names) {
      if (this.mergedAdapters.includes(name)) continue;
      this.mergeAdapter(name);
      this.mergedAdapters.push(name);
    }
  }

  unmerge(): void {
    while (this.mergedAdapters.length) this.unmergeAdapter(this.mergedAdapters.pop() as string);
  }

  /** W += scaling * B A. */
  protected mergeAdapter(name: string): void {
    const w = this.baseWeight;
    tf.tidy(() => w.assign(w.add(this.deltaWeight(name))));
  }

  /** W -= scaling * B A. */
  protected unmergeAdapter(name: string): void {
    const w = this.baseWeight;
    tf.tidy(() => w.assign(w.sub(this.deltaWeight(name))));
  }

  get merged(): boolean {
    return this.mergedAdapters.length > 0;
  }

  deleteAdapter(name: string): void {
    if (this.mergedAdapters.includes(name)) throw new Error(`adapter "${name}" is merged; unmerge before deleting it`);
    for (const d of [this.lora_A, this.lora_B, this.lora_dropout, this.lora_magnitude_vector]) if (d.has(name)) d.delete(name);
    this.lora_embedding_A.delete(name);
    this.lora_embedding_B.delete(name);
    this.specs.delete(name);
    this.scaling.delete(name);
    this.activeAdapters = this.activeAdapters.filter((a) => a !== name);
  }
}
