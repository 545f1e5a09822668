import * as tf from "@tensorflow/tfjs";
import { fusedAdamWStep } from "../engine/index.js";
import { AdamWBase, type AdamWOptions, type AdamWStepOptions } from "./adamw_base.js";
import { adamwUpdate, updateSquare } from "./adamw_update.js";
import type { GradMap } from "./clip.js";
import type { OptimParameter } from "./param_groups.js";

export type { AdamWOptions, AdamWStepOptions } from "./adamw_base.js";

interface Moments {
  m: tf.Variable;
  v: tf.Variable;
  /** Updates this parameter has had (torch keeps the count per parameter). */
  step: number;
}

/** A parameter and its moments after an update; the squared change when it was asked for (or comes free). */
type Updated = { param: tf.Tensor; m: tf.Tensor; v: tf.Tensor; updateSquare?: tf.Scalar };

/**
 * AdamW exactly as torch.optim.AdamW (amsgrad off; the update is adamw_update.ts), with float32
 * moments on the backend beside the parameters. Parameters are addressed by their dotted names.
 */
export class AdamW extends AdamWBase {
  private readonly moments = new Map<string, Moments>();

  constructor(params: Map<string, OptimParameter>, opts: AdamWOptions = {}) {
    super(params, opts);
  }

  step(grads: GradMap, opts: AdamWStepOptions = {}): Map<string, number> | undefined {
    this.checkGradientNames(grads);
    this.stepCount++;
    const updateSquares = new Map<string, tf.Scalar>();
    for (const [name, variable] of this.variables) {
      const grad = grads.get(name);
      if (!grad) continue;
      const state = this.moments.get(name) ?? this.initMoments(name, variable);
      const { scalars, weightDecay } = this.scalarsOf(name, ++state.step, opts.lrScale);
      // One pass over the parameter where the backend has lora-lab's fused kernel (wasm); op by op elsewhere.
      const next: Updated =
        fusedAdamWStep(variable, grad, state.m, state.v, scalars) ??
        tf.tidy(() => {
          const u = adamwUpdate(variable, grad, state.m, state.v, scalars, weightDecay);
          return opts.updateNorms ? { ...u, updateSquare: updateSquare(variable, u.param) } : u;
        });
      state.m.assign(next.m);
      state.v.assign(next.v);
      variable.assign(next.param);
      tf.dispose([next.m, next.v, next.param]);
      if (opts.updateNorms && next.updateSquare) updateSquares.set(name, next.updateSquare);
      else next.updateSquare?.dispose();
    }
    if (!opts.updateNorms) return undefined;
    const out = new Map<string, number>(this.parameterNames.map((n) => [n, 0]));
    if (updateSquares.size === 0) return out;
    const stacked = tf.stack([...updateSquares.values()]);
    const values = stacked.dataSync();
    tf.dispose([stacked, ...updateSquares.values()]);
    [...updateSquares.keys()].forEach((n, i) => out.set(n, values[i]));
    return out;
  }

  private initMoments(name: string, variable: tf.Variable): Moments {
    const zeros = tf.zerosLike(variable);
    const state = { m: tf.variable(zeros, false), v: tf.variable(zeros, false), step: 0 };
    // tf.variable shares the data of its initial value; the handle itself is ours to free.
    zeros.dispose();
    this.moments.set(name, state);
    return state;
  }

  /** Live moment tensors: do not dispose. */
  stateTensors(): Record<string, tf.Tensor> {
    const out: Record<string, tf.Tensor> = {};
    for (const [name, s] of this.moments) {
      out[`${name}.exp_avg`] = s.m;
      out[`${name}.exp_avg_sq`] = s.v;
    }
    return out;
  }

  dispose(): void {
    for (const s of this.moments.values()) tf.dispose([s.m, s.v]);
    this.moments.clear();
  }
}
