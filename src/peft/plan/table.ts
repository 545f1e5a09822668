/** A plan as a table (layer, role, rank, alpha, trainable params), counted on the model it was applied to. */
import type { Module } from "../../nn/index.js";
import { baseName, inGroup, type LayerPlan, type PlanRole } from "./plan.js";

/** One row per layer and group; the same shape as plot's PlotLayerPlanRow. */
export interface PlanTableRow {
  layer: number | string;
  module?: string;
  role: PlanRole;
  rank?: number;
  alpha?: number;
  trainableParams: number;
  totalParams?: number;
}

/** Rows for every group's layers, then the embeddings and the head, from `model`'s parameters. */
export function planTable(model: Module, plan: LayerPlan): PlanTableRow[] {
  const params = [...model.namedParameters()].map(([n, p]) => ({ name: baseName(n), p }));
  const rows: PlanTableRow[] = [];
  const covered = new Set<string>();
  for (const g of plan.groups) {
    for (const layer of g.layers) {
      const single = { ...g, layers: [layer] };
      const mine = params.filter(({ name }) => {
        if (!inGroup(single, name)) return false;
        // A LoRA group that shares its layers with others owns only the modules it targets.
        if (g.module && g.targetModules) return g.targetModules.some((t) => name.includes(`.${t}.`));
        return true;
      });
      mine.forEach(({ name }) => covered.add(name));
      const label = g.within ? `${g.within}${layer}` : layer;
      rows.push({
        layer: label,
        ...(g.module ? { module: g.module } : {}),
        role: g.role,
        ...(g.role === "lora" ? { rank: g.r, alpha: g.loraAlpha ?? g.r } : {}),
        trainableParams: mine.reduce((s, { p }) => s + (p.requiresGrad ? p.size : 0), 0),
        totalParams: mine.reduce((s, { p }) => s + p.size, 0),
      });
    }
  }
  const rest = params.filter(({ name }) => !covered.has(name));
  const head = rest.filter(({ name }) => name.startsWith("lm_head."));
  const other = rest.filter(({ name }) => !name.startsWith("lm_head."));
  for (const [label, list, role] of [
    ["embeddings and norms", other, plan.embeddings],
    ["lm_head", head, plan.head],
  ] as const) {
    if (list.length === 0) continue;
    const trainable = list.reduce((s, { p }) => s + (p.requiresGrad ? p.size : 0), 0);
    rows.push({
      layer: label,
      role: role === "full" || trainable > 0 ? "full" : "frozen",
      trainableParams: trainable,
      totalParams: list.reduce((s, { p }) => s + p.size, 0),
    });
  }
  return rows;
}

/** A plain-text table for notebooks and logs. */
export function formatPlanTable(rows: PlanTableRow[]): string {
  const head = ["layer", "role", "rank", "alpha", "trainable params"];
  const body = rows.map((r) => [
    r.module ? `${r.layer} ${r.module}` : String(r.layer),
    r.role === "lora" ? "LoRA" : r.role === "full" ? "fully trainable" : "frozen",
    r.rank !== undefined ? String(r.rank) : "",
    r.alpha !== undefined ? String(r.alpha) : "",
    r.trainableParams.toLocaleString("en-US"),
  ]);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === cells.length - 1 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(" | ");
  const total = rows.reduce((s, r) => s + r.trainableParams, 0);
  return [
    line(head),
    widths.map((w) => "-".repeat(w)).join("-|-"),
    ...body.map(line),
    `total trainable: ${total.toLocaleString("en-US")}`,
  ].join("\n");
}
