import * as tf from "@tensorflow/tfjs";

let counter = 0;

/**
 * A trainable tensor of a module. `requiresGrad` maps onto the variable's `trainable` flag, so
 * `tf.variableGrads` and optimizers see exactly the parameters that should learn.
 */
export class Parameter {
  readonly variable: tf.Variable;

  constructor(value: tf.Tensor, requiresGrad = true, name?: string) {
    // Unique names: tfjs keeps a global registry of variable names.
    this.variable = tf.variable(value, requiresGrad, `${name ?? "param"}_${counter++}`);
  }

  get requiresGrad(): boolean {
    return this.variable.trainable;
  }

  set requiresGrad(value: boolean) {
    this.variable.trainable = value;
  }

  get shape(): number[] {
    return this.variable.shape;
  }

  get size(): number {
    return this.variable.size;
  }

  /** Replaces the value in place (same shape), keeping identity for optimizers and ties. */
  assign(value: tf.Tensor): void {
    if (value.dataId === this.variable.dataId) return; // assigning a variable to itself would free its data
    if (!tf.util.arraysEqual(value.shape, this.variable.shape)) {
      throw new Error(`cannot assign a tensor of shape [${value.shape}] to a parameter of shape [${this.variable.shape}]`);
    }
    this.variable.assign(value.dtype === this.variable.dtype ? value : value.cast(this.variable.dtype));
  }

  dispose(): void {
    if (!this.variable.isDisposed) this.variable.dispose();
  }
}
