import * as tf from "@tensorflow/tfjs";
import { Module, Parameter } from "../nn/index.js";

/** Modules keyed by adapter name, as torch.nn.ModuleDict (`lora_A.default`). */
export class AdapterModules<M extends Module = Module> extends Module {
  set(name: string, module: M): M {
    return this.registerModule(name, module);
  }

  get(name: string): M | undefined {
    return this._modules.get(name) as M | undefined;
  }

  has(name: string): boolean {
    return this._modules.has(name);
  }

  delete(name: string): void {
    const m = this._modules.get(name);
    if (m) m.dispose();
    this._modules.delete(name);
  }

  keys(): string[] {
    return [...this._modules.keys()];
  }

  forward(): never {
    throw new Error("AdapterModules holds adapters by name; call one of them");
  }
}

/** Parameters keyed by adapter name, as torch.nn.ParameterDict (`lora_embedding_A.default`). */
export class AdapterParameters extends Module {
  set(name: string, value: tf.Tensor): Parameter {
    return this.registerParameter(name, value);
  }

  get(name: string): Parameter | undefined {
    return this._parameters.get(name);
  }

  delete(name: string): void {
    this._parameters.get(name)?.dispose();
    this._parameters.delete(name);
  }

  forward(): never {
    throw new Error("AdapterParameters holds parameters by adapter name; it has no forward");
  }
}

/** A module without parameters that returns its input (PEFT's nn.Identity when dropout is 0). */
export class Identity extends Module {
  forward(x: tf.Tensor): tf.Tensor {
    return x;
  }
}
