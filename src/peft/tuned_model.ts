/**
 * A base model with non-LoRA adapters (bottleneck adapters, prefix tuning): the same surface as
 * PeftModel (forward / loss / generate forwarded, PEFT's trainable-parameter line, disableAdapter),
 * so a notebook can put the methods side by side.
 */
import type * as tf from "@tensorflow/tfjs";
import { Module } from "../nn/index.js";
import type { PeftBaseModel } from "./peft_model.js";

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
  readonly model: PeftBaseModel;

  constructor(model: PeftBaseModel, readonly method: string) {
    super();
    this.model = this.registerModule("model", model);
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

  getNbTrainableParameters(): [number, number] {
    return [this.numParameters({ trainableOnly: true }), this.numParameters()];
  }

  printTrainableParameters(): string {
    const line = trainableParametersLine(...this.getNbTrainableParameters());
    console.log(line);
    return line;
  }

  /** Runs `fn` with the adapters switched off (the base model's behaviour). */
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
