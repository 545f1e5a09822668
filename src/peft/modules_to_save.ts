/**
 * modules_to_save: a trainable copy of a whole module (e.g. the LM head) next to the frozen
 * original, as PEFT's ModulesToSaveWrapper (`lm_head.original_module`, `lm_head.modules_to_save.default`).
 */
import * as tf from "@tensorflow/tfjs";
import { Conv1D, Embedding, LayerNorm, Linear, Module } from "../nn/index.js";
import { AdapterModules } from "./containers.js";

/** A fresh module with the same class, shape and values (not shared with the original). */
export function copyModule(m: Module): Module {
  let copy: Module;
  if (m instanceof Linear) copy = new Linear(m.inFeatures, m.outFeatures, { bias: m.bias !== undefined });
  else if (m instanceof Conv1D) copy = new Conv1D(m.inFeatures, m.outFeatures);
  else if (m instanceof Embedding) copy = new Embedding(m.numEmbeddings, m.embeddingDim);
  else if (m instanceof LayerNorm) copy = new LayerNorm(m.normalizedShape, m.eps);
  else throw new Error(`modulesToSave cannot copy a ${m.typeName}; supported: Linear, Conv1D, Embedding, LayerNorm`);
  copy.loadStateDict(m.stateDict());
  copy.train(m.training);
  return copy;
}

export class ModulesToSaveWrapper extends Module {
  readonly original_module: Module;
  readonly modules_to_save = new AdapterModules();
  activeAdapter: string | undefined;
  disableAdapters = false;

  constructor(original: Module, adapterName: string) {
    super();
    this.original_module = this.registerModule("original_module", original);
    this.registerModule("modules_to_save", this.modules_to_save);
    this.update(adapterName);
  }

  update(adapterName: string): void {
    if (!this.modules_to_save.has(adapterName)) this.modules_to_save.set(adapterName, copyModule(this.original_module));
    this.activeAdapter = adapterName;
  }

  /** The module the forward pass uses now. */
  get activeModule(): Module {
    if (this.disableAdapters || !this.activeAdapter) return this.original_module;
    return this.modules_to_save.get(this.activeAdapter) ?? this.original_module;
  }

  forward(...args: unknown[]): tf.Tensor {
    return (this.activeModule as unknown as { forward(...a: unknown[]): tf.Tensor }).forward(...args);
  }
}
