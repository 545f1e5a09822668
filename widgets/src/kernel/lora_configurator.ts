/**
 * LoraConfigurator: per layer group frozen / LoRA / fully trainable, rank and alpha, target
 * modules; the trainable-parameter count and the layer-plan picture follow every change. Its
 * `value` is the LayerPlan (and `loraConfig` the PEFT LoraConfig) the next cell trains with.
 */
import {
  articlePlan,
  compilePlan,
  isTargeted,
  layerIndexOf,
  layerPlanFigure,
  planTable,
  type LayerPlan,
  type LoraConfig,
  type Module,
  type PlanLayerGroup,
  type PlanRole,
  type PlanTableRow,
} from "lora-lab";
import { LabWidget, packFigure } from "./lab_widget.js";

export const PLAN_ROLES: PlanRole[] = ["frozen", "lora", "full"];

export interface LoraConfiguratorOptions {
  /** The plan to start from; default the article's (lower half frozen, LoRA above, head trainable). */
  plan?: LayerPlan;
}

interface ParamInfo {
  name: string;
  shape: number[];
  size: number;
}

/** A parameter as planTable reads it: a size and whether it trains. */
interface PlannedParam {
  size: number;
  requiresGrad: boolean;
}

const moduleOf = (paramName: string): string => paramName.slice(0, paramName.lastIndexOf("."));
const moduleLeaf = (paramName: string): string => paramName.split(".").slice(-2, -1)[0] ?? "";
const inLayers = (g: PlanLayerGroup, key: string): boolean =>
  (!g.within || key.startsWith(g.within)) && g.layers.includes(layerIndexOf(`${key}.`) ?? -1);
/** Whether a LoRA group puts an adapter on module `key` (PEFT's matching rules, within the group's layers). */
const adapts = (g: PlanLayerGroup, key: string): boolean =>
  g.role === "lora" && inLayers(g, key) && isTargeted({ targetModules: g.targetModules ?? [], layersToTransform: g.layers }, key);

/** The module a target name ends in ("self_attn.q_proj" -> "q_proj"): what the view lists and picks. */
const leafOf = (target: string): string => target.slice(target.lastIndexOf(".") + 1);

/**
 * A group's targets for the module names the view picked. A group whose plan scopes its targets to
 * one kind of attention (encoder-decoder plans: BART's "self_attn.q_proj" beside
 * "encoder_attn.q_proj", T5's "SelfAttention.q") keeps that scope, for the picked modules that
 * exist under it; a group of bare names (GPT-2's, LLaMA's plans) takes the picked names as they are.
 */
function groupTargets(group: PlanLayerGroup, picked: string[], moduleKeys: readonly string[]): string[] {
  const scopes = new Set((group.targetModules ?? []).map((t) => t.slice(0, t.lastIndexOf(".") + 1)));
  const scope = scopes.size === 1 ? [...scopes][0] : "";
  if (scope === "") return [...picked];
  return picked.map((leaf) => scope + leaf).filter((t) => moduleKeys.some((k) => k.endsWith(`.${t}`)));
}

/**
 * The parameters applyPlan(model, plan) leaves on a model, by PEFT's names, as sizes and trainable
 * flags: planTable counts these, so the model is not changed, no tensor is made and no random
 * number is drawn (which would shift every later seeded initialisation).
 */
function plannedParameters(model: Module, params: ParamInfo[], headSize: number, plan: LayerPlan): Map<string, PlannedParam> {
  // The plan's own rule for what trains in place (full groups, full embeddings); LoRA groups are
  // left out because compilePlan rejects the half-made ones a view can send (no targets yet).
  const inPlace = compilePlan(model, { ...plan, groups: plan.groups.filter((g) => g.role !== "lora") });
  const planned = new Map<string, PlannedParam>();
  for (const p of params) {
    planned.set(p.name, { size: p.size, requiresGrad: inPlace.trainsInPlace(p.name) });
    const key = moduleOf(p.name);
    if (p.shape.length !== 2 || !p.name.endsWith(".weight")) continue;
    for (const g of plan.groups.filter((g) => adapts(g, key))) {
      // lora_A [r, in] and lora_B [out, r], whichever way round the base stores its weight.
      const r = g.r ?? 0;
      planned.set(`${key}.lora_A.default.weight`, { size: r * p.shape[1], requiresGrad: true });
      planned.set(`${key}.lora_B.default.weight`, { size: p.shape[0] * r, requiresGrad: true });
    }
  }
  // A trainable copy of the head (PEFT's modules_to_save); a tied head's weight is the embedding's.
  if (plan.head === "full" && headSize > 0) planned.set("lm_head.modules_to_save.default.weight", { size: headSize, requiresGrad: true });
  return planned;
}

export class LoraConfigurator extends LabWidget {
  private readonly params: ParamInfo[];
  private readonly headSize: number;
  private readonly base: LayerPlan;

  constructor(
    private readonly model: Module & { config?: { modelType?: string } },
    o: LoraConfiguratorOptions = {},
  ) {
    const plan = o.plan ?? articlePlan(model as never, { peftCompatible: true });
    const params = [...model.namedParameters()].map(([name, p]) => ({ name, shape: [...p.variable.shape], size: p.size }));
    const available = [
      ...new Set(params.filter((p) => p.shape.length === 2 && layerIndexOf(p.name) !== undefined).map((p) => moduleLeaf(p.name))),
    ];
    const lora = plan.groups.find((g) => g.role === "lora");
    super("LoraConfigurator", {
      groups: plan.groups.map((g) => ({ name: g.name, layers: g.layers })),
      roles: plan.groups.map((g) => g.role),
      ranks: plan.groups.map((g) => g.r ?? lora?.r ?? 8),
      alphas: plan.groups.map((g) => g.loraAlpha ?? g.r ?? lora?.loraAlpha ?? 16),
      target_modules: lora?.targetModules ? [...new Set(lora.targetModules.map(leafOf))] : available.slice(0, 1),
      available_modules: available,
      embeddings: plan.embeddings,
      head: plan.head,
      trainable_params: 0,
      total_params: params.reduce((s, p) => s + p.size, 0),
      figure: null,
    });
    this.params = params;
    const head = model.namedModules().get("lm_head");
    this.headSize = head ? [...head.namedParameters().values()].reduce((s, p) => s + p.size, 0) : 0;
    this.base = plan;
    this.recount();
    this.observe(["roles", "ranks", "alphas", "target_modules", "embeddings", "head"], () => this.recount());
    this.open();
  }

  /** The plan the controls describe. */
  get value(): LayerPlan {
    const roles = this.get<PlanRole[]>("roles");
    const ranks = this.get<number[]>("ranks");
    const alphas = this.get<number[]>("alphas");
    const targets = this.get<string[]>("target_modules");
    const moduleKeys = [...this.model.namedModules().keys()];
    for (const r of roles)
      if (!PLAN_ROLES.includes(r)) throw new Error(`LoraConfigurator: unknown role "${r}"; expected one of ${PLAN_ROLES.join(", ")}`);
    return {
      ...this.base,
      name: "configured",
      embeddings: this.get("embeddings"),
      head: this.get("head"),
      groups: this.base.groups.map((g, i) => {
        const { r: _r, loraAlpha: _a, targetModules: _t, ...rest } = g;
        return roles[i] === "lora"
          ? { ...rest, role: "lora" as const, r: ranks[i], loraAlpha: alphas[i], targetModules: groupTargets(g, targets, moduleKeys) }
          : { ...rest, role: roles[i] };
      }),
    };
  }

  /** The PEFT LoraConfig the plan compiles to (undefined when no group uses LoRA). */
  get loraConfig(): LoraConfig | undefined {
    return compilePlan(this.model, this.value).loraConfig;
  }

  /** The plan table of the plan the controls describe, as applying it to the model would count it (the model is not changed). */
  rows(): PlanTableRow[] {
    const plan = this.value;
    const planned = plannedParameters(this.model, this.params, this.headSize, plan);
    // planTable reads only the names, sizes and flags of namedParameters().
    return planTable({ namedParameters: () => planned } as unknown as Module, plan);
  }

  private recount(): void {
    const rows = this.rows();
    this.set({
      trainable_params: rows.reduce((s, r) => s + r.trainableParams, 0),
      // As PEFT counts "all params": the base, the LoRA matrices and a tied head's trainable copy.
      total_params: rows.reduce((s, r) => s + (r.totalParams ?? 0), 0),
      figure: packFigure(layerPlanFigure(rows, { height: 300 })),
    });
  }
}
