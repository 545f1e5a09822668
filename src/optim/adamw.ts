import * as tf from "@tensorflow/tfjs";
import { fusedAdamWStep } from "../engine/index.js";
import type { GradMap } from "./clip.js";
import { resolveParamGroups, type OptimParameter, type ParamGroupSpec, type ResolvedParamGroup } from "./param_groups.js";

export interface AdamWOptions {
  /** Peak learning rate; each step may scale it (a schedule) and each group multiplies it. Default 1e-3. */
  lr?: number;
  /** Default [0.9, 0.999]. */
  betas?: [number, number];
  /** Default 1e-8. */
  eps?: number;
  /** Decoupled weight decay of the default group. Default 0.01, as torch.optim.AdamW. */
  weightDecay?: number;
  paramGroups?: ParamGroupSpec[];
  /** Parameters kept out of weight decay in groups without their own. Default isNoDecayParameter. */
  noDecay?: (name: string) => boolean;
}

export interface AdamWStepOptions {
  /** Multiplier of the peak LR for this step (the schedule's value). Default 1. */
  lrScale?: number;
  /** Also return, per parameter, the squared L2 norm of the change the step made. */
  updateNorms?: boolean;
}

interface Moments {
  m: tf.Variable;
  v: tf.Variable;
  /** Updates this parameter has had (torch keeps the count per parameter). */
  step: number;
}

/**
 * AdamW exactly as torch.optim.AdamW (amsgrad off): decoupled decay `p *= 1 - lr*wd`, moments, then
 * `p -= lr / (1 - b1^t) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)`. Parameters are addressed by their
 * dotted names; the learning rate is a plain field (tfjs keeps its optimizers' LR protected).
 */
export class AdamW {
  lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly groups: ResolvedParamGroup[];
  /** Calls to step() so far. */
  stepCount = 0;
  private readonly variables = new Map<string, tf.Variable>();
  private readonly groupOf = new Map<string, ResolvedParamGroup>();
  private readonly moments = new Map<string, Moments>();

  constructor(params: Map<string, OptimParameter>, opts: AdamWOptions = {}) {
    this.lr = opts.lr ?? 1e-3;
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    const weightDecay = opts.weightDecay ?? 0.01;
    if (!(this.lr >= 0)) throw new Error(`AdamW: lr must be >= 0, got ${this.lr}`);
    if (!(weightDecay >= 0)) throw new Error(`AdamW: weightDecay must be >= 0, got ${weightDecay}`);
    for (const b of this.betas) if (!(b >= 0 && b < 1)) throw new Error(`AdamW: betas must be in [0, 1), got [${this.betas}]`);
    this.groups = resolveParamGroups(params, opts.paramGroups, { weightDecay, noDecay: opts.noDecay });
    if (this.groups.length === 0) throw new Error("AdamW: no trainable parameters (every parameter has requiresGrad = false)");
    for (const g of this.groups) {
      for (const name of g.params) {
        this.variables.set(name, params.get(name)!.variable);
        this.groupOf.set(name, g);
      }
    }
  }

  /** Names of the parameters this optimizer updates, in group order. */
  get parameterNames(): string[] {
    return [...this.variables.keys()];
  }

  /** The LR a group's parameters get at a given schedule value. */
  groupLr(group: ResolvedParamGroup, lrScale = 1): number {
    return this.lr * lrScale * group.lrMultiplier;
  }

  /**
   * One update from gradients keyed by parameter name. As in torch, a parameter without a gradient
   * is skipped (no decay, no moment update); a gradient for an unknown name is an error. The
   * gradients stay the caller's. With `updateNorms`, returns each parameter's squared change.
   */
  step(grads: GradMap, opts: AdamWStepOptions = {}): Map<string, number> | undefined {
    const unknown = [...grads.keys()].filter((n) => !this.variables.has(n));
    if (unknown.length) throw new Error(`AdamW.step: gradients for ${unknown.join(", ")}, which this optimizer does not update; it updates ${this.parameterNames.join(", ")}`);
    this.stepCount++;
    const [beta1, beta2] = this.betas;
    const updateSquares = new Map<string, tf.Scalar>();
    for (const [name, variable] of this.variables) {
      const grad = grads.get(name);
      if (!grad) continue;
      const group = this.groupOf.get(name)!;
      const lr = this.groupLr(group, opts.lrScale);
      const state = this.moments.get(name) ?? this.initMoments(name, variable);
      const t = ++state.step;
      const biasCorrection1 = 1 - beta1 ** t;
      const biasCorrection2Sqrt = Math.sqrt(1 - beta2 ** t);
      // One pass over the parameter where the backend has lora-lab's fused kernel (wasm).
      const fused = fusedAdamWStep(variable, grad, state.m, state.v, {
        lr, beta1, beta2, eps: this.eps, decay: 1 - lr * group.weightDecay, biasCorrection1, biasCorrection2Sqrt,
      });
      if (fused) {
        state.m.assign(fused.m);
        state.v.assign(fused.v);
        variable.assign(fused.param);
        tf.dispose([fused.m, fused.v, fused.param]);
        if (opts.updateNorms) updateSquares.set(name, fused.updateSquare);
        else fused.updateSquare.dispose();
        continue;
      }
      tf.tidy(() => {
        const old = variable as tf.Tensor;
        const decayed = group.weightDecay !== 0 ? tf.mul(old, 1 - lr * group.weightDecay) : old;
        // torch's lerp_(grad, 1 - beta1): m + (1 - beta1) * (g - m)
        const m = tf.add(state.m, tf.mul(tf.sub(grad, state.m), 1 - beta1));
        const v = tf.add(tf.mul(state.v, beta2), tf.mul(tf.mul(grad, grad), 1 - beta2));
        const denom = tf.add(tf.div(tf.sqrt(v), biasCorrection2Sqrt), this.eps);
        const next = tf.sub(decayed, tf.mul(tf.div(m, denom), lr / biasCorrection1));
        if (opts.updateNorms) updateSquares.set(name, tf.keep(tf.sum(tf.square(tf.sub(next, old)))));
        state.m.assign(m);
        state.v.assign(v);
        variable.assign(next);
      });
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

  /** Whether this optimizer updates the named parameter. */
  has(name: string): boolean {
    return this.variables.has(name);
  }

  private initMoments(name: string, variable: tf.Variable): Moments {
    const zeros = tf.zerosLike(variable);
    const state = { m: tf.variable(zeros, false), v: tf.variable(zeros, false), step: 0 };
    // tf.variable shares the data of its initial value; the handle itself is ours to free.
    zeros.dispose();
    this.moments.set(name, state);
    return state;
  }

  /** Moment tensors by "<param>.exp_avg" / "<param>.exp_avg_sq" (torch's state names). Live: do not dispose. */
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
