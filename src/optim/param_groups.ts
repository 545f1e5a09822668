import type * as tf from "@tensorflow/tfjs";
import { layerIndexOf, LAYERS_PATTERNS } from "../nn/layer_index.js";

// Re-exported for the callers that found the layer parser here first.
export { layerIndexOf, LAYERS_PATTERNS };

/**
 * A parameter group as plain data (shared with peft's layer plans): dotted parameter names as in
 * `namedParameters()`, an LR multiplier of the peak LR and, optionally, its own weight decay.
 */
export interface ParamGroupSpec {
  name: string;
  params: string[];
  /** Multiplies the scheduled LR for this group. Default 1. */
  lrMultiplier?: number;
  /** Weight decay for every parameter of the group. Default: the optimizer's, minus no-decay names. */
  weightDecay?: number;
}

/** What an optimizer needs of a parameter; `nn.Parameter` satisfies it. */
export interface OptimParameter {
  readonly variable: tf.Variable;
  requiresGrad: boolean;
}

/** A group with its parameters looked up and its hyperparameters settled. */
export interface ResolvedParamGroup {
  name: string;
  params: string[];
  lrMultiplier: number;
  weightDecay: number;
}

/** Names of the groups that hold the parameters no ParamGroupSpec names. */
export const DEFAULT_PARAM_GROUP = "default";
export const DEFAULT_NO_DECAY_PARAM_GROUP = "default.no_decay";

// transformers' Trainer keeps biases and normalisation weights out of weight decay: its name
// patterns, plus GPT-2's LayerNorm names (ln_1, ln_2, ln_f) that it catches by module type.
const NO_DECAY_PATTERNS = [/bias/, /layernorm/, /rmsnorm/, /(?:^|\.)norm(?:$|\.)/, /_norm(?:$|\.)/, /(?:^|\.)ln_?\w*\.weight$/];

/** Whether transformers' Trainer would exclude this parameter from weight decay. */
export function isNoDecayParameter(name: string): boolean {
  const lower = name.toLowerCase();
  return NO_DECAY_PATTERNS.some((p) => p.test(lower));
}

export interface ResolveParamGroupsOptions {
  /** Weight decay of the default group and of specs without their own. */
  weightDecay: number;
  /** Parameters kept out of weight decay unless a spec sets weightDecay. Default isNoDecayParameter. */
  noDecay?: (name: string) => boolean;
}

/**
 * Places every trainable parameter in exactly one group: the specs first (frozen parameters they
 * name are skipped), then the rest in "default" / "default.no_decay". A spec without its own
 * weightDecay splits the same way, into "<name>" and "<name>.no_decay". Empty groups are dropped.
 */
export function resolveParamGroups(
  named: Map<string, OptimParameter>,
  specs: ParamGroupSpec[] = [],
  opts: ResolveParamGroupsOptions,
): ResolvedParamGroup[] {
  const noDecay = opts.noDecay ?? isNoDecayParameter;
  const owner = new Map<string, string>();
  const groups: ResolvedParamGroup[] = [];
  const seenNames = new Set<string>();
  const add = (name: string, params: string[], lrMultiplier: number, weightDecay: number | undefined) => {
    if (weightDecay !== undefined) {
      groups.push({ name, params, lrMultiplier, weightDecay });
      return;
    }
    groups.push({ name, params: params.filter((p) => !noDecay(p)), lrMultiplier, weightDecay: opts.weightDecay });
    groups.push({ name: `${name}.no_decay`, params: params.filter((p) => noDecay(p)), lrMultiplier, weightDecay: 0 });
  };
  for (const spec of specs) {
    if (seenNames.has(spec.name) || spec.name === DEFAULT_PARAM_GROUP)
      throw new Error(`param groups: the group name "${spec.name}" is used twice (or is the reserved "${DEFAULT_PARAM_GROUP}")`);
    seenNames.add(spec.name);
    const lrMultiplier = spec.lrMultiplier ?? 1;
    if (!(lrMultiplier >= 0) || !Number.isFinite(lrMultiplier))
      throw new Error(`param groups: group "${spec.name}" has lrMultiplier ${spec.lrMultiplier}; expected a finite number >= 0`);
    if (spec.weightDecay !== undefined && !(spec.weightDecay >= 0))
      throw new Error(`param groups: group "${spec.name}" has weightDecay ${spec.weightDecay}; expected >= 0`);
    const params: string[] = [];
    for (const p of spec.params) {
      const param = named.get(p);
      if (!param)
        throw new Error(
          `param groups: group "${spec.name}" names "${p}", which is not a parameter of the model; parameters: ${preview([...named.keys()])}`,
        );
      const previous = owner.get(p);
      if (previous !== undefined)
        throw new Error(`param groups: "${p}" is in both group "${previous}" and group "${spec.name}"; a parameter belongs to one group`);
      owner.set(p, spec.name);
      if (param.requiresGrad) params.push(p);
    }
    add(spec.name, params, lrMultiplier, spec.weightDecay);
  }
  const rest = [...named].filter(([n, p]) => p.requiresGrad && !owner.has(n)).map(([n]) => n);
  add(DEFAULT_PARAM_GROUP, rest, 1, undefined);
  return groups.filter((g) => g.params.length > 0);
}

function preview(names: string[], max = 20): string {
  return names.length <= max ? names.join(", ") : `${names.slice(0, max).join(", ")}, ... (${names.length} in all)`;
}

/**
 * Layer-wise learning rates as param groups: one group "layer.<i>" per layer that `lrMultiplier`
 * gives a number for (the article's lightly trainable middle layers: a small multiplier).
 * Parameters outside the layers, or of layers it returns undefined for, stay in the default group.
 */
export function paramGroupsByLayer(
  names: Iterable<string>,
  lrMultiplier: (layer: number) => number | undefined,
  opts: { layersPattern?: string | string[]; weightDecay?: number } = {},
): ParamGroupSpec[] {
  const patterns = opts.layersPattern === undefined ? LAYERS_PATTERNS : [opts.layersPattern].flat();
  const byLayer = new Map<number, string[]>();
  for (const name of names) {
    const layer = layerIndexOf(name, patterns);
    if (layer === undefined || lrMultiplier(layer) === undefined) continue;
    byLayer.set(layer, [...(byLayer.get(layer) ?? []), name]);
  }
  return [...byLayer]
    .sort(([a], [b]) => a - b)
    .map(([layer, params]) => ({
      name: `layer.${layer}`,
      params,
      lrMultiplier: lrMultiplier(layer),
      ...(opts.weightDecay === undefined ? {} : { weightDecay: opts.weightDecay }),
    }));
}
