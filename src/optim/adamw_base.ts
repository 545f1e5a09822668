import type * as tf from "@tensorflow/tfjs";
import { adamwScalars, type AdamWScalars } from "./adamw_update.js";
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

/**
 * What every AdamW of this module shares, whatever holds its moments: the hyperparameters, the
 * parameter groups, the parameters by dotted name, and the per-parameter scalars of an update.
 * The learning rate is a plain field (tfjs keeps its optimizers' LR protected). Errors carry the
 * subclass's name.
 */
export abstract class AdamWBase {
  lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  readonly groups: ResolvedParamGroup[];
  /** Calls to step() so far. */
  stepCount = 0;
  protected readonly variables = new Map<string, tf.Variable>();
  private readonly groupOf = new Map<string, ResolvedParamGroup>();

  /** `checkMore` validates a subclass's own options, after the shared ones and before grouping. */
  constructor(params: Map<string, OptimParameter>, opts: AdamWOptions, checkMore?: (optimizer: string) => void) {
    const name = new.target.name;
    this.lr = opts.lr ?? 1e-3;
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    const weightDecay = opts.weightDecay ?? 0.01;
    if (!(this.lr >= 0)) throw new Error(`${name}: lr must be >= 0, got ${this.lr}`);
    if (!(weightDecay >= 0)) throw new Error(`${name}: weightDecay must be >= 0, got ${weightDecay}`);
    for (const b of this.betas) if (!(b >= 0 && b < 1)) throw new Error(`${name}: betas must be in [0, 1), got [${this.betas}]`);
    checkMore?.(name);
    this.groups = resolveParamGroups(params, opts.paramGroups, { weightDecay, noDecay: opts.noDecay });
    if (this.groups.length === 0) throw new Error(`${name}: no trainable parameters (every parameter has requiresGrad = false)`);
    for (const g of this.groups) {
      for (const p of g.params) {
        this.variables.set(p, params.get(p)!.variable);
        this.groupOf.set(p, g);
      }
    }
  }

  /**
   * One update from gradients keyed by parameter name. As in torch, a parameter without a gradient
   * is skipped (no decay, no moment update); a gradient for an unknown name is an error. The
   * gradients stay the caller's. With `updateNorms`, returns each parameter's squared change.
   */
  abstract step(grads: GradMap, opts?: AdamWStepOptions): Map<string, number> | undefined;

  /** Moment tensors by "<param>.exp_avg" / "<param>.exp_avg_sq" (torch's state names). */
  abstract stateTensors(): Record<string, tf.Tensor>;

  abstract dispose(): void;

  /** Names of the parameters this optimizer updates, in group order. */
  get parameterNames(): string[] {
    return [...this.variables.keys()];
  }

  /** Whether this optimizer updates the named parameter. */
  has(name: string): boolean {
    return this.variables.has(name);
  }

  /** The LR a group's parameters get at a given schedule value. */
  groupLr(group: ResolvedParamGroup, lrScale = 1): number {
    return this.lr * lrScale * group.lrMultiplier;
  }

  /** Throws on gradients for parameters this optimizer does not update. */
  protected checkGradientNames(grads: GradMap): void {
    const unknown = [...grads.keys()].filter((n) => !this.variables.has(n));
    if (unknown.length)
      throw new Error(
        `${this.constructor.name}.step: gradients for ${unknown.join(", ")}, which this optimizer does not update; it updates ${this.parameterNames.join(", ")}`,
      );
  }

  /** The scalars of a parameter's update number `t` (counted per parameter, as torch does), and its group's weight decay. */
  protected scalarsOf(name: string, t: number, lrScale?: number): { scalars: AdamWScalars; weightDecay: number } {
    const group = this.groupOf.get(name)!;
    return {
      scalars: adamwScalars(this.groupLr(group, lrScale), this.betas, this.eps, group.weightDecay, t),
      weightDecay: group.weightDecay,
    };
  }
}
