/**
 * TunedModel: a base model with adapters of any method (LoRA's PeftModel, bottleneck adapters,
 * prefix tuning). It forwards forward / loss / generate to the base model, prints PEFT's
 * trainable-parameter line and runs code with the adapters switched off, so a notebook can put
 * the methods side by side.
 */
import type * as tf from "@tensorflow/tfjs";
import { Module } from "../nn/index.js";
import { packedParameterCount } from "../quant/model.js";

/** What the adapters need of a base model: a module tree and, for defaults, its model_type. */
export interface InjectableModel extends Module {
  config?: { modelType?: string };
}

/** What a TunedModel forwards to: a module tree with forward, and loss / generate when the model has them. */
export interface PeftBaseModel extends InjectableModel {
  forward(...args: unknown[]): tf.Tensor;
  loss?(...args: unknown[]): tf.Scalar;
  generate?(...args: unknown[]): number[][];
}

/** PEFT's print_trainable_parameters line for [trainable, all]. */
export function trainableParametersLine(trainable: number, all: number): string {
  return `trainable params: ${trainable.toLocaleString("en-US")} || all params: ${all.toLocaleString("en-US")} || trainable%: ${((100 * trainable) / all).toFixed(4)}`;
}

/** A wrapper layer that can be switched off (the base behaviour). */
export interface SwitchableAdapter {
  disableAdapters: boolean;
}

function isSwitchable(m: Module): m is Module & SwitchableAdapter {
  return typeof (m as unknown as Partial<SwitchableAdapter>).disableAdapters === "boolean";
}

export class TunedModel extends Module {
  /** The model under the adapters (its layers are wrapped while the adapters are attached). */
  readonly model: PeftBaseModel;

  /**
   * `holder` is the child that carries the base model's names: by default the model itself as
   * `model` (`model.transformer.h.0...`); PeftModel passes PEFT's LoraModel as `base_model`, so
   * LoRA's names read `base_model.model.transformer.h.0...` as in PEFT's files.
   */
  constructor(
    model: PeftBaseModel,
    readonly method: string,
    holder: { name: string; module: Module } = { name: "model", module: model },
  ) {
    super();
    this.model = model;
    this.registerModule(holder.name, holder.module);
  }

  forward(...args: unknown[]): tf.Tensor {
    return this.model.forward(...args);
  }

  loss(...args: unknown[]): tf.Scalar {
    if (!this.model.loss) throw new Error(`the base model (${this.model.typeName}) has no loss()`);
    return this.model.loss(...args);
  }

  generate(...args: unknown[]): number[][] {
    if (!this.model.generate) throw new Error(`the base model (${this.model.typeName}) has no generate()`);
    return this.model.generate(...args);
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

  /**
   * Runs `fn` with every adapter off (the base model's behaviour, adapters kept), as PEFT's
   * `with model.disable_adapter():`. Async callbacks keep them off until their promise settles.
   */
  disableAdapter<T>(fn: () => T): T {
    const layers = [...this.model.namedModules().values()].filter(isSwitchable);
    const set = (v: boolean) => layers.forEach((l) => (l.disableAdapters = v));
    set(true);
    let result: T;
    try {
      result = fn();
    } catch (e) {
      set(false);
      throw e;
    }
    if (result instanceof Promise) return result.finally(() => set(false)) as T;
    set(false);
    return result;
  }
}
