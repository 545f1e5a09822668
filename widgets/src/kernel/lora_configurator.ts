/**
 * LoraConfigurator: per layer group frozen / LoRA / fully trainable, rank and alpha, target
 * modules; the trainable-parameter count and the layer-plan picture follow every change. Its
 * `value` is the LayerPlan (and `loraConfig` the PEFT LoraConfig) the next cell trains with.
 */
import { articlePlan, compilePlan, layerPlanFigure, type LayerPlan, type LoraConfig, type Module, type PlanRole } from "lora-lab";
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

interface PlanRow {
  layer: number | string;
  role: PlanRole;
  rank?: number;
  alpha?: number;
  trainableParams: number;
  totalParams: number;
}

const layerOf = (name: string): number | undefined => {
  const m = /\.(\d+)\./.exec(name);
  return m ? Number(m[1]) : undefined;
};
const moduleLeaf = (paramName: string): string => paramName.split(".").slice(-2, -1)[0] ?? "";

export class LoraConfigurator extends LabWidget {
  private readonly params: ParamInfo[];
  private readonly base: LayerPlan;

  constructor(private readonly model: Module & { config?: { modelType?: string } }, o: LoraConfiguratorOptions = {}) {
    const plan = o.plan ?? articlePlan(model as never, { peftCompatible: true });
    const params = [...model.namedParameters()].map(([name, p]) => ({ name, shape: [...p.variable.shape], size: p.size }));
    const available = [...new Set(params.filter((p) => p.shape.length === 2 && layerOf(p.name) !== undefined).map((p) => moduleLeaf(p.name)))];
    const lora = plan.groups.find((g) => g.role === "lora");
    super("LoraConfigurator", {
      groups: plan.groups.map((g) => ({ name: g.name, layers: g.layers })),
      roles: plan.groups.map((g) => g.role),
      ranks: plan.groups.map((g) => g.r ?? lora?.r ?? 8),
      alphas: plan.groups.map((g) => g.loraAlpha ?? g.r ?? lora?.loraAlpha ?? 16),
      target_modules: lora?.targetModules ?? available.slice(0, 1),
      available_modules: available,
      embeddings: plan.embeddings,
      head: plan.head,
      trainable_params: 0,
      total_params: params.reduce((s, p) => s + p.size, 0),
      figure: null,
    });
    this.params = params;
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
    for (const r of roles) if (!PLAN_ROLES.includes(r)) throw new Error(`LoraConfigurator: unknown role "${r}"; expected one of ${PLAN_ROLES.join(", ")}`);
    return {
      ...this.base,
      name: "configured",
      embeddings: this.get("embeddings"),
      head: this.get("head"),
      groups: this.base.groups.map((g, i) => {
        const { r: _r, loraAlpha: _a, targetModules: _t, ...rest } = g;
        return roles[i] === "lora" ? { ...rest, role: "lora" as const, r: ranks[i], loraAlpha: alphas[i], targetModules: [...targets] } : { ...rest, role: roles[i] };
      }),
    };
  }

  /** The PEFT LoraConfig the plan compiles to (undefined when no group uses LoRA). */
  get loraConfig(): LoraConfig | undefined {
    return compilePlan(this.model, this.value).loraConfig;
  }

  /** Trainable parameters per plan row, counted from the model's shapes (the model is not changed). */
  rows(): PlanRow[] {
    const plan = this.value;
    const rows: PlanRow[] = [];
    const inLayers = new Set<string>();
    for (const g of plan.groups) {
      for (const layer of g.layers) {
        const mine = this.params.filter((p) => layerOf(p.name) === layer && (!g.within || p.name.startsWith(g.within)));
        mine.forEach((p) => inLayers.add(p.name));
        const total = mine.reduce((s, p) => s + p.size, 0);
        let trainable = 0;
        if (g.role === "full") trainable = total;
        if (g.role === "lora") {
          for (const p of mine) {
            if (p.shape.length === 2 && p.name.endsWith(".weight") && (g.targetModules ?? []).includes(moduleLeaf(p.name))) trainable += (g.r ?? 0) * (p.shape[0] + p.shape[1]);
          }
        }
        rows.push({ layer, role: g.role, ...(g.role === "lora" ? { rank: g.r, alpha: g.loraAlpha } : {}), trainableParams: trainable, totalParams: g.role === "lora" ? total + trainable : total });
      }
    }
    const rest = this.params.filter((p) => !inLayers.has(p.name));
    const head = rest.filter((p) => p.name.startsWith("lm_head."));
    const other = rest.filter((p) => !p.name.startsWith("lm_head."));
    const otherTotal = other.reduce((s, p) => s + p.size, 0);
    rows.push({ layer: "embeddings and norms", role: plan.embeddings, trainableParams: plan.embeddings === "full" ? otherTotal : 0, totalParams: otherTotal });
    // A tied head has no weight of its own: "full" trains a copy of the token embedding (PEFT's modules_to_save).
    const headParams = head.length ? head : this.params.filter((p) => /(^|\.)(wte|shared|embed_tokens)\.weight$/.test(p.name)).slice(0, 1);
    const headTotal = headParams.reduce((s, p) => s + p.size, 0);
    rows.push({ layer: "lm_head", role: plan.head, trainableParams: plan.head === "full" ? headTotal : 0, totalParams: headTotal });
    return rows;
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
