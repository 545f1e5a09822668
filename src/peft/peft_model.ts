/**
 * PeftModel: the base model with adapters, named as PEFT names it (`base_model.model.<base names>`),
 * forwarding forward / loss / generate to the base model. `getPeftModel` builds one.
 */
import * as tf from "@tensorflow/tfjs";
import { Module } from "../nn/index.js";
import { LoraConfig, type LoraConfigFields } from "./lora/config.js";
import { adapterLayers, findTargets, injectLora, markOnlyAdapterTrainable, type InjectableModel } from "./injector.js";
import { loadAdapterFolder, saveAdapterFolder, type SaveAdapterOptions } from "./files.js";
import { trainableParametersLine } from "./tuned_model.js";
import { FUSED_QKV_NAMES, fusedQkvRanges, type QkvPart } from "./fused_qkv.js";
import { packedParameterCount } from "../quant/model.js";

/** lora-lab's options beyond PEFT's config (not saved in adapter_config.json). */
export interface AdapterOptions {
  /**
   * LoRA on only these parts of a fused QKV projection (GPT-2's c_attn), e.g. ["q", "v"] for the
   * article's placement. Default: one LoRA over the whole fused output, as PEFT (and its files) do.
   */
  fusedQkv?: QkvPart[];
}

/** What PeftModel forwards to: a module tree with forward, and loss / generate when the model has them. */
export interface PeftBaseModel extends InjectableModel {
  forward(...args: unknown[]): tf.Tensor;
  loss?(...args: unknown[]): tf.Scalar;
  generate?(...args: unknown[]): number[][];
}

/** PEFT's LoraModel: holds the base model as `model` and the adapter configs. */
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

export interface FromPretrainedOptions {
  adapterName?: string;
  /** Load for further training (PEFT's is_trainable); default false: everything frozen. */
  isTrainable?: boolean;
}

export class PeftModel extends Module {
  readonly base_model: LoraModel;
  readonly peftConfig: Record<string, LoraConfig> = {};
  activeAdapter: string;

  constructor(model: PeftBaseModel, config: LoraConfig, adapterName = "default", opts: AdapterOptions = {}) {
    super();
    this.base_model = this.registerModule("base_model", new LoraModel(model));
    this.activeAdapter = adapterName;
    this.addAdapter(adapterName, config, opts);
  }

  /** The model under the adapters (its layers are wrapped while the adapters are attached). */
  get baseModel(): PeftBaseModel {
    return this.base_model.model;
  }

  forward(...args: unknown[]): tf.Tensor {
    return this.baseModel.forward(...args);
  }

  loss(...args: unknown[]): tf.Scalar {
    if (!this.baseModel.loss) throw new Error(`the base model (${this.baseModel.typeName}) has no loss()`);
    return this.baseModel.loss(...args);
  }

  generate(...args: unknown[]): number[][] {
    if (!this.baseModel.generate) throw new Error(`the base model (${this.baseModel.typeName}) has no generate()`);
    return this.baseModel.generate(...args);
  }

  /** Adds adapter `name` (its layers trainable only once it is the active adapter, see setAdapter). */
  addAdapter(name: string, config: LoraConfig | Partial<LoraConfigFields>, opts: AdapterOptions = {}): void {
    if (name in this.peftConfig) throw new Error(`adapter "${name}" already exists; adapters: ${Object.keys(this.peftConfig).join(", ")}`);
    const cfg = config instanceof LoraConfig ? config : new LoraConfig(config);
    const existing = Object.values(this.peftConfig);
    if (existing.length && existing[0].bias !== "none" && cfg.bias !== "none") {
      throw new Error(`LoraModel supports only 1 adapter with bias; adapter "${Object.keys(this.peftConfig)[0]}" already has bias "${existing[0].bias}"`);
    }
    const parts = opts.fusedQkv;
    if (parts) {
      const fused = findTargets(this.baseModel, cfg).targets.filter((k) => fusedQkvRanges(this.baseModel.getSubmodule(k), k, parts));
      if (fused.length === 0) throw new Error(`fusedQkv: none of the targeted modules is a fused QKV projection (local names ${FUSED_QKV_NAMES.join(", ")})`);
    }
    injectLora(this.baseModel, cfg, name, parts && ((key) => fusedQkvRanges(this.baseModel.getSubmodule(key), key, parts)));
    this.peftConfig[name] = cfg;
    const { lora, saved } = adapterLayers(this.baseModel);
    // A new adapter does not change which one runs: the others' layers keep their active adapter.
    for (const layer of lora.values()) layer.activeAdapters = layer.specs.has(this.activeAdapter) ? [this.activeAdapter] : [];
    for (const w of saved.values()) w.activeAdapter = this.activeAdapter;
    this.setAdapter(this.activeAdapter in this.peftConfig ? this.activeAdapter : name);
  }

  /** Makes `name` the adapter that runs and trains; the others stay attached, frozen and unused. */
  setAdapter(name: string): void {
    const cfg = this.peftConfig[name];
    if (!cfg) throw new Error(`adapter "${name}" not found; adapters: ${Object.keys(this.peftConfig).join(", ")}`);
    const { lora, saved } = adapterLayers(this.baseModel);
    for (const layer of lora.values()) {
      if (layer.merged) throw new Error("cannot change the active adapter while adapters are merged; call unmerge() first");
      layer.activeAdapters = layer.specs.has(name) ? [name] : [];
    }
    for (const w of saved.values()) w.activeAdapter = w.modules_to_save.has(name) ? name : undefined;
    this.activeAdapter = name;
    if (cfg.inferenceMode) this.requiresGrad(false);
    else markOnlyAdapterTrainable(this, name, cfg.bias);
  }

  deleteAdapter(name: string): void {
    if (!(name in this.peftConfig)) throw new Error(`adapter "${name}" not found; adapters: ${Object.keys(this.peftConfig).join(", ")}`);
    this.deleteAdapterLayers(name);
    delete this.peftConfig[name];
    const left = Object.keys(this.peftConfig);
    if (this.activeAdapter === name && left.length) this.setAdapter(left[0]);
  }

  private deleteAdapterLayers(name: string): void {
    const { lora, saved } = adapterLayers(this.baseModel);
    for (const layer of lora.values()) if (layer.specs.has(name)) layer.deleteAdapter(name);
    for (const w of saved.values()) if (w.modules_to_save.has(name)) w.modules_to_save.delete(name);
  }

  /** PEFT's get_nb_trainable_parameters: [trainable, all], all including the adapters and 4-bit weights (packed numel * 2). */
  getNbTrainableParameters(): [number, number] {
    return [this.numParameters({ trainableOnly: true }), this.numParameters() + packedParameterCount(this)];
  }

  /** Prints and returns PEFT's line, e.g. `trainable params: 294,912 || all params: 124,734,720 || trainable%: 0.2364`. */
  printTrainableParameters(): string {
    const line = trainableParametersLine(...this.getNbTrainableParameters());
    console.log(line);
    return line;
  }

  private setDisabled(value: boolean): void {
    const { lora, saved } = adapterLayers(this.baseModel);
    for (const l of lora.values()) l.disableAdapters = value;
    for (const w of saved.values()) w.disableAdapters = value;
  }

  /**
   * Runs `fn` with every adapter off (the base model's behaviour, adapters kept), as PEFT's
   * `with model.disable_adapter():`. Async callbacks keep them off until their promise settles.
   */
  disableAdapter<T>(fn: () => T): T {
    this.setDisabled(true);
    let result: T;
    try {
      result = fn();
    } catch (e) {
      this.setDisabled(false);
      throw e;
    }
    if (result instanceof Promise) return result.finally(() => this.setDisabled(false)) as T;
    this.setDisabled(false);
    return result;
  }

  /** Adds the active adapter's (or the named adapters') delta into the base weights. */
  merge(adapterNames: string[] = [this.activeAdapter]): void {
    for (const n of adapterNames) if (!(n in this.peftConfig)) throw new Error(`adapter "${n}" not found; adapters: ${Object.keys(this.peftConfig).join(", ")}`);
    for (const layer of adapterLayers(this.baseModel).lora.values()) layer.merge(adapterNames.filter((n) => layer.specs.has(n)));
  }

  unmerge(): void {
    for (const layer of adapterLayers(this.baseModel).lora.values()) layer.unmerge();
  }

  /** Merges the active adapter and returns the base model with plain layers (modulesToSave copies in place). */
  mergeAndUnload(): PeftBaseModel {
    this.merge();
    return this.unload(true);
  }

  /** Returns the base model with the adapters removed, unmerged unless `keepMerged`. */
  unload(keepMerged = false): PeftBaseModel {
    const model = this.baseModel;
    const { lora, saved } = adapterLayers(model);
    for (const [key, layer] of lora) {
      if (!keepMerged) layer.unmerge();
      model.setSubmodule(key, layer.base_layer);
      layer.mergedAdapters.length = 0; // the merged deltas now belong to the plain layer
      for (const name of [...layer.specs.keys()]) layer.deleteAdapter(name);
    }
    for (const [key, w] of saved) model.setSubmodule(key, keepMerged ? w.activeModule : w.original_module);
    model.requiresGrad(true);
    return model;
  }

  /** adapter_config.json + adapter_model.safetensors (+ README.md); other adapters go into subfolders of their names. */
  async savePretrained(dir: string, opts: SaveAdapterOptions = {}): Promise<void> {
    await saveAdapterFolder(this, dir, opts);
  }

  /** Attaches an adapter folder written by savePretrained or by Python PEFT. */
  async loadAdapter(dir: string, adapterName: string, opts: { isTrainable?: boolean } = {}): Promise<void> {
    await loadAdapterFolder(this, dir, adapterName, opts.isTrainable ?? false);
  }

  static async fromPretrained(model: PeftBaseModel, dir: string, opts: FromPretrainedOptions = {}): Promise<PeftModel> {
    return loadAdapterFolder(undefined, dir, opts.adapterName ?? "default", opts.isTrainable ?? false, model);
  }
}

/** Wraps the targeted layers of `model` with LoRA and freezes the rest (PEFT's get_peft_model). */
export function getPeftModel(
  model: PeftBaseModel,
  config: LoraConfig | Partial<LoraConfigFields>,
  adapterName = "default",
  opts: AdapterOptions = {},
): PeftModel {
  if (model instanceof PeftModel) throw new Error("getPeftModel: the model already has adapters; use addAdapter on it");
  return new PeftModel(model, config instanceof LoraConfig ? config : new LoraConfig(config), adapterName, opts);
}
