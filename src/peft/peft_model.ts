/**
 * PeftModel (PEFT's peft_model.py): the base model with LoRA adapters, named as PEFT names it
 * (`base_model.model.<base names>`). Adds, removes, switches, merges, saves and loads adapters by
 * name; forwarding and the trainable-parameter line come from TunedModel.
 */
import { join } from "node:path";
import { LoraConfig, type LoraConfigFields } from "./lora/config.js";
import { checkPeftCompatible, loadAdapterWeights, readAdapterConfig, writeAdapterFolder, type SaveAdapterOptions } from "./lora/files.js";
import { FUSED_QKV_NAMES, fusedQkvRanges, type QkvPart } from "./lora/fused_qkv.js";
import { adapterLayers, findTargets, injectLora, LoraModel, markOnlyAdapterTrainable } from "./lora/model.js";
import { adapterParameters } from "./lora/state_dict.js";
import { TunedModel, type PeftBaseModel } from "./tuned_model.js";

/** lora-lab's options beyond PEFT's config (not saved in adapter_config.json). */
export interface AdapterOptions {
  /**
   * LoRA on only these parts of a fused QKV projection (GPT-2's c_attn), e.g. ["q", "v"] for the
   * article's placement. Default: one LoRA over the whole fused output, as PEFT (and its files) do.
   */
  fusedQkv?: QkvPart[];
}

export interface FromPretrainedOptions {
  adapterName?: string;
  /** Load for further training (PEFT's is_trainable); default false: everything frozen. */
  isTrainable?: boolean;
}

export class PeftModel extends TunedModel {
  readonly base_model: LoraModel;
  readonly peftConfig: Record<string, LoraConfig> = {};
  activeAdapter: string;

  constructor(model: PeftBaseModel, config: LoraConfig, adapterName = "default", opts: AdapterOptions = {}) {
    super(model, "LoRA", { name: "base_model", module: new LoraModel(model) });
    this.base_model = this._modules.get("base_model") as LoraModel;
    this.activeAdapter = adapterName;
    this.addAdapter(adapterName, config, opts);
  }

  /** The model under the adapters (its layers are wrapped while the adapters are attached). */
  get baseModel(): PeftBaseModel {
    return this.model;
  }

  private notFound(name: string): Error {
    return new Error(`adapter "${name}" not found; adapters: ${Object.keys(this.peftConfig).join(", ")}`);
  }

  /** Adds adapter `name` (its layers trainable only once it is the active adapter, see setAdapter). */
  addAdapter(name: string, config: LoraConfig | Partial<LoraConfigFields>, opts: AdapterOptions = {}): void {
    if (name in this.peftConfig) throw new Error(`adapter "${name}" already exists; adapters: ${Object.keys(this.peftConfig).join(", ")}`);
    const cfg = config instanceof LoraConfig ? config : new LoraConfig(config);
    const existing = Object.values(this.peftConfig);
    if (existing.length && existing[0].bias !== "none" && cfg.bias !== "none") {
      throw new Error(
        `LoraModel supports only 1 adapter with bias; adapter "${Object.keys(this.peftConfig)[0]}" already has bias "${existing[0].bias}"`,
      );
    }
    const parts = opts.fusedQkv;
    if (parts) {
      const fused = findTargets(this.model, cfg).targets.filter((k) => fusedQkvRanges(this.model.getSubmodule(k), k, parts));
      if (fused.length === 0)
        throw new Error(`fusedQkv: none of the targeted modules is a fused QKV projection (local names ${FUSED_QKV_NAMES.join(", ")})`);
    }
    injectLora(this.model, cfg, name, parts && ((key) => fusedQkvRanges(this.model.getSubmodule(key), key, parts)));
    this.peftConfig[name] = cfg;
    const { lora, saved } = adapterLayers(this.model);
    // A new adapter does not change which one runs: the others' layers keep their active adapter.
    for (const layer of lora.values()) layer.activeAdapters = layer.specs.has(this.activeAdapter) ? [this.activeAdapter] : [];
    for (const w of saved.values()) w.activeAdapter = this.activeAdapter;
    this.setAdapter(this.activeAdapter in this.peftConfig ? this.activeAdapter : name);
  }

  /** Makes `name` the adapter that runs and trains; the others stay attached, frozen and unused. */
  setAdapter(name: string): void {
    const cfg = this.peftConfig[name];
    if (!cfg) throw this.notFound(name);
    const { lora, saved } = adapterLayers(this.model);
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
    if (!(name in this.peftConfig)) throw this.notFound(name);
    const { lora, saved } = adapterLayers(this.model);
    for (const layer of lora.values()) if (layer.specs.has(name)) layer.deleteAdapter(name);
    for (const w of saved.values()) if (w.modules_to_save.has(name)) w.modules_to_save.delete(name);
    delete this.peftConfig[name];
    const left = Object.keys(this.peftConfig);
    if (this.activeAdapter === name && left.length) this.setAdapter(left[0]);
  }

  /** Adds the active adapter's (or the named adapters') delta into the base weights. */
  merge(adapterNames: string[] = [this.activeAdapter]): void {
    for (const n of adapterNames) if (!(n in this.peftConfig)) throw this.notFound(n);
    for (const layer of adapterLayers(this.model).lora.values()) layer.merge(adapterNames.filter((n) => layer.specs.has(n)));
  }

  unmerge(): void {
    for (const layer of adapterLayers(this.model).lora.values()) layer.unmerge();
  }

  /** Merges the active adapter and returns the base model with plain layers (modulesToSave copies in place). */
  mergeAndUnload(): PeftBaseModel {
    this.merge();
    return this.unload(true);
  }

  /** Returns the base model with the adapters removed, unmerged unless `keepMerged`. */
  unload(keepMerged = false): PeftBaseModel {
    const model = this.model;
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
    for (const name of opts.selectedAdapters ?? Object.keys(this.peftConfig)) {
      const cfg = this.peftConfig[name];
      if (!cfg) throw new Error(`savePretrained: adapter "${name}" not found; adapters: ${Object.keys(this.peftConfig).join(", ")}`);
      checkPeftCompatible(adapterLayers(this.model).lora, name);
      await writeAdapterFolder(name === "default" ? dir : join(dir, name), name, cfg, adapterParameters(this, name, cfg.bias), opts.dtype);
    }
  }

  /** Attaches an adapter folder written by savePretrained or by Python PEFT. */
  async loadAdapter(dir: string, adapterName: string, opts: { isTrainable?: boolean } = {}): Promise<void> {
    const cfg = await readAdapterConfig(dir, opts.isTrainable ?? false);
    this.addAdapter(adapterName, cfg.with({ initLoraWeights: false }));
    await this.fillAdapter(dir, adapterName, cfg);
  }

  static async fromPretrained(model: PeftBaseModel, dir: string, opts: FromPretrainedOptions = {}): Promise<PeftModel> {
    const name = opts.adapterName ?? "default";
    const cfg = await readAdapterConfig(dir, opts.isTrainable ?? false);
    if (model instanceof PeftModel) throw new Error("PeftModel.fromPretrained: the model already has adapters; use loadAdapter on it");
    const peft = new PeftModel(model, cfg.with({ initLoraWeights: false }), name);
    await peft.fillAdapter(dir, name, cfg);
    return peft;
  }

  /** Keeps the config as read (its init, its inference mode), loads the weights and reapplies what trains. */
  private async fillAdapter(dir: string, name: string, cfg: LoraConfig): Promise<void> {
    this.peftConfig[name] = cfg;
    await loadAdapterWeights(dir, adapterParameters(this, name, cfg.bias));
    this.setAdapter(this.activeAdapter);
  }
}
