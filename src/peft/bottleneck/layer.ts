/**
 * Bottleneck adapters (Houlsby et al. 2019): after a sublayer (attention, MLP) and before its
 * residual add, h -> h + up(act(down(h))), with `up` zero-initialised so training starts from the
 * base model. PEFT has no such tuner; this follows the paper and AdapterHub's placement.
 */
import * as tf from "@tensorflow/tfjs";
import { activation, init, Linear, Module } from "../../nn/index.js";

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
