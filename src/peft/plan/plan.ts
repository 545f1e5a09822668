/**
 * Layer plans: the article's tables as data. A plan says, per group of layers, frozen | LoRA
 * (rank, alpha, target modules) | fully trainable, with an LR multiplier, plus the embeddings and
 * the LM head. It compiles to a PEFT LoraConfig (exact module names, rankPattern / alphaPattern),
 * a freeze set and optimizer param groups.
 */
import { Conv1D, Embedding, layerIndexOf, type Module } from "../../nn/index.js";
import { LoraConfig } from "../lora/config.js";
import { getPeftModel } from "../mapping.js";
import { isTargeted } from "../matching.js";
import { PeftModel, type AdapterOptions } from "../peft_model.js";
import type { PeftBaseModel } from "../tuned_model.js";

export type PlanRole = "frozen" | "lora" | "full";

export interface PlanLayerGroup {
  /** Shown in tables and used as the param group's name ("lower", "middle", "upper"). */
  name: string;
  /** Layer indices: the first number in a module's name (`transformer.h.9...` -> 9). */
  layers: number[];
  /** Only modules whose names start with this ("decoder." for a T5 stack); default every module. */
  within?: string;
  role: PlanRole;
  /** For "lora": rank, alpha and targets (PEFT's list form: a name or a "."-suffix). */
  r?: number;
  loraAlpha?: number;
  targetModules?: string[];
  /** Label of the part of the layer this group covers, for tables ("self-attention"). */
  module?: string;
  lrMultiplier?: number;
  weightDecay?: number;
}

export interface LayerPlan {
  name?: string;
  groups: PlanLayerGroup[];
  embeddings: "frozen" | "full";
  /** "full": a trainable copy of the LM head (PEFT's modulesToSave), so a tied embedding stays frozen. */
  head: "frozen" | "full";
  headLrMultiplier?: number;
  embeddingsLrMultiplier?: number;
  /** LoRA on only these parts of a fused QKV (GPT-2's c_attn); see lora/fused_qkv.ts. */
  fusedQkv?: AdapterOptions["fusedQkv"];
  loraDropout?: number;
}

/** An optimizer param group as plain data; the same shape as optim's ParamGroupSpec. */
export interface PlanParamGroup {
  name: string;
  params: string[];
  lrMultiplier?: number;
  weightDecay?: number;
}

export interface CompiledPlan {
  /** undefined when the plan has no LoRA group. */
  loraConfig?: LoraConfig;
  adapterOptions: AdapterOptions;
  /** Which group a base-model parameter name belongs to ("embeddings", "head", a group's name, or undefined). */
  groupOf(name: string): string | undefined;
  /** Whether a base-model parameter trains in place (a "full" group, or full embeddings). */
  trainsInPlace(name: string): boolean;
}

export interface AppliedPlan {
  model: PeftModel | PeftBaseModel;
  loraConfig?: LoraConfig;
  trainable: string[];
  frozen: string[];
  paramGroups: PlanParamGroup[];
}

const HEAD_NAMES = ["lm_head"];
const PEFT_PREFIX = "base_model.model.";

/** A name without PeftModel's `base_model.model.` prefix: plans speak of the base model's names. */
export function baseName(name: string): string {
  return name.startsWith(PEFT_PREFIX) ? name.slice(PEFT_PREFIX.length) : name;
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The number of layers: one more than the largest layer index among names starting with `within`. */
export function countLayers(model: Module, within = ""): number {
  let max = -1;
  for (const key of model.namedModules().keys()) {
    if (!key.startsWith(within)) continue;
    const i = layerIndexOf(`${key}.`);
    if (i !== undefined) max = Math.max(max, i);
  }
  if (max < 0)
    throw new Error(
      `no numbered layers${within ? ` under "${within}"` : ""}; modules: ${[...model.namedModules().keys()].slice(0, 12).join(", ")}, ...`,
    );
  return max + 1;
}

/** Whether a name (module or parameter, without PEFT's prefix) falls in a group's layers. */
export function inGroup(group: PlanLayerGroup, name: string): boolean {
  if (group.within && !name.startsWith(group.within)) return false;
  const i = layerIndexOf(name.endsWith(".") ? name : `${name}.`);
  return i !== undefined && group.layers.includes(i);
}

function isEmbeddingName(model: Module, name: string): boolean {
  const owner = name.slice(0, name.lastIndexOf("."));
  const m = model.namedModules().get(owner.replace(/\.base_layer$/, ""));
  return m instanceof Embedding && !HEAD_NAMES.includes(owner);
}

export function compilePlan(model: Module, plan: LayerPlan): CompiledPlan {
  const modules = [...model.namedModules().keys()];
  const targets: Array<{ key: string; r: number; alpha: number; group: string }> = [];
  for (const g of plan.groups) {
    if (g.role !== "lora") continue;
    if (!g.r || !g.targetModules?.length) throw new Error(`plan group "${g.name}" has role "lora" but no r or targetModules`);
    const keys = modules.filter((k) => inGroup(g, k) && isTargeted({ targetModules: g.targetModules!, layersToTransform: g.layers }, k));
    if (keys.length === 0) {
      throw new Error(
        `plan group "${g.name}": targets ${JSON.stringify(g.targetModules)} match no module in layers [${g.layers}]${g.within ? ` under "${g.within}"` : ""}`,
      );
    }
    for (const key of keys) {
      if (targets.some((t) => t.key === key)) throw new Error(`plan group "${g.name}" targets ${key}, which another group already targets`);
      targets.push({ key, r: g.r, alpha: g.loraAlpha ?? g.r, group: g.name });
    }
  }
  let loraConfig: LoraConfig | undefined;
  if (targets.length) {
    const { r, alpha } = targets[0];
    const rankPattern: Record<string, number> = {};
    const alphaPattern: Record<string, number> = {};
    for (const t of targets) {
      if (t.r !== r) rankPattern[escapeRegex(t.key)] = t.r;
      if (t.alpha !== alpha) alphaPattern[escapeRegex(t.key)] = t.alpha;
    }
    const head = plan.head === "full" ? HEAD_NAMES.filter((h) => modules.includes(h)) : [];
    loraConfig = new LoraConfig({
      r,
      loraAlpha: alpha,
      targetModules: targets.map((t) => t.key),
      rankPattern,
      alphaPattern,
      loraDropout: plan.loraDropout ?? 0,
      modulesToSave: head.length ? head : undefined,
      // Set from the model, so that a plan on GPT-2's Conv1D layers does not meet PEFT's warning.
      fanInFanOut: targets.some((t) => model.getSubmodule(t.key) instanceof Conv1D),
    });
  }
  return {
    loraConfig,
    adapterOptions: plan.fusedQkv ? { fusedQkv: plan.fusedQkv } : {},
    groupOf(name) {
      const n = baseName(name);
      if (HEAD_NAMES.some((h) => n === h || n.startsWith(`${h}.`))) return "head";
      if (isEmbeddingName(model, n)) return "embeddings";
      // A LoRA weight belongs to the group that targets its layer; other names to the first group over their layer.
      const owner = targets.find((t) => n.startsWith(`${t.key}.`));
      if (owner) return owner.group;
      return plan.groups.find((g) => inGroup(g, n))?.name;
    },
    trainsInPlace(name) {
      const n = baseName(name);
      if (n.includes(".lora_") || n.includes(".modules_to_save.")) return false;
      if (plan.embeddings === "full" && isEmbeddingName(model, n)) return true;
      return plan.groups.some((g) => g.role === "full" && inGroup(g, n));
    },
  };
}

/**
 * Applies a plan: LoRA where it says LoRA (via getPeftModel), the LM head's trainable copy, full
 * groups trainable in place, everything else frozen. Only the LoRA weights and the head copy go
 * into a PEFT adapter file; layers trained in place belong to the base model's checkpoint.
 */
export function applyPlan(model: PeftBaseModel, plan: LayerPlan): AppliedPlan {
  const compiled = compilePlan(model, plan);
  const out: PeftModel | PeftBaseModel = compiled.loraConfig
    ? getPeftModel(model, compiled.loraConfig, "default", compiled.adapterOptions)
    : model;
  if (!(out instanceof PeftModel)) {
    if (plan.head === "full")
      throw new Error("a plan with a trainable head needs at least one LoRA group (the head copy is PEFT's modulesToSave)");
    out.requiresGrad(false);
  }
  for (const [name, p] of out.namedParameters()) if (compiled.trainsInPlace(name)) p.requiresGrad = true;
  const trainable: string[] = [];
  const frozen: string[] = [];
  const groups = new Map<string, PlanParamGroup>();
  const settings = new Map<string, Omit<PlanParamGroup, "params" | "name">>([
    ["head", { lrMultiplier: plan.headLrMultiplier }],
    ["embeddings", { lrMultiplier: plan.embeddingsLrMultiplier }],
    ...plan.groups.map((g) => [g.name, { lrMultiplier: g.lrMultiplier, weightDecay: g.weightDecay }] as const),
  ]);
  for (const [name, p] of out.namedParameters()) {
    (p.requiresGrad ? trainable : frozen).push(name);
    if (!p.requiresGrad) continue;
    const g = compiled.groupOf(name) ?? "other";
    if (!groups.has(g)) {
      const s = settings.get(g) ?? {};
      groups.set(g, {
        name: g,
        params: [],
        ...(s.lrMultiplier !== undefined ? { lrMultiplier: s.lrMultiplier } : {}),
        ...(s.weightDecay !== undefined ? { weightDecay: s.weightDecay } : {}),
      });
    }
    groups.get(g)!.params.push(name);
  }
  return { model: out, loraConfig: compiled.loraConfig, trainable, frozen, paramGroups: [...groups.values()] };
}
