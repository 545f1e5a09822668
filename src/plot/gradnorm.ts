import { stepEvents } from "./events.js";
import { axis, baseLayout, formatNumber } from "./theme.js";
import type { PlotFigure, PlotTrainEvent } from "./types.js";

/** Values already arranged: rows are modules (or layers), columns steps. */
export interface PlotNormMatrix {
  steps: readonly number[];
  names: readonly string[];
  /** values[row][column], one row per name. */
  values: readonly (readonly number[])[];
}

export interface GradNormHeatmapOptions {
  title?: string;
  /** "module" (default): one row per module; "layer": modules of a block combined (root sum of squares). */
  groupBy?: "module" | "layer";
  /** Which per-module record of the step events to draw. Default "gradNorms". */
  metric?: "gradNorms" | "updateRatios";
  height?: number;
}

/**
 * The block a module belongs to: "transformer.h.3.attn.c_attn" -> "transformer.h.3",
 * "encoder.block.2.layer.0.SelfAttention.q" -> "encoder.block.2"; names outside blocks stay whole.
 */
export function layerOf(name: string): string {
  const m = /^(.*?(?:^|\.)(?:h|layer|layers|block|blocks)\.\d+)(?:\.|$)/.exec(name);
  return m ? m[1] : name;
}

/**
 * Drops leading dotted segments every name shares ("transformer."), keeping labels short, but
 * keeps the container of a block index: "h.3.attn.c_attn", not "3.attn.c_attn".
 */
export function shortNames(names: readonly string[]): string[] {
  if (names.length < 2) return [...names];
  const split = names.map((n) => n.split("."));
  let k = 0;
  while (split.every((s) => s.length > k + 2 && s[k] === split[0][k])) k++;
  if (k > 0 && split.some((s) => /^\d+$/.test(s[k]))) k--;
  return split.map((s) => s.slice(k).join("."));
}

/** Rows in first-seen order (the trainer's parameter order: the model's order). */
export function normMatrix(
  events: readonly PlotTrainEvent[],
  metric: "gradNorms" | "updateRatios" = "gradNorms",
  groupBy: "module" | "layer" = "module",
): PlotNormMatrix {
  const steps = stepEvents(events).filter((e) => e[metric]);
  const names: string[] = [];
  const seen = new Set<string>();
  for (const e of steps) for (const k of Object.keys(e[metric]!)) if (!seen.has(k)) (seen.add(k), names.push(k));
  if (groupBy === "module") {
    return { steps: steps.map((e) => e.step), names, values: names.map((n) => steps.map((e) => e[metric]![n] ?? NaN)) };
  }
  const layers: string[] = [...new Set(names.map(layerOf))];
  // A block's gradient norm is the norm of all its parameters: sqrt of the sum of squared module norms.
  const values = layers.map((l) => {
    const members = names.filter((n) => layerOf(n) === l);
    return steps.map((e) => {
      const present = members.map((n) => e[metric]![n]).filter((v) => v !== undefined && Number.isFinite(v));
      return present.length ? Math.sqrt(present.reduce((s, v) => s + v * v, 0)) : NaN;
    });
  });
  return { steps: steps.map((e) => e.step), names: layers, values };
}

/**
 * Per-module (or per-layer) gradient norms over steps as a heatmap on a log colour scale, since
 * norms of frozen-adjacent and adapter modules differ by orders of magnitude.
 */
export function gradNormHeatmap(input: readonly PlotTrainEvent[] | PlotNormMatrix, opts: GradNormHeatmapOptions = {}): PlotFigure {
  const metric = opts.metric ?? "gradNorms";
  const m = Array.isArray(input)
    ? normMatrix(input as readonly PlotTrainEvent[], metric, opts.groupBy ?? "module")
    : (input as PlotNormMatrix);
  if (m.names.length === 0 || m.steps.length === 0)
    throw new Error(`gradNormHeatmap: no step events with ${metric}; the trainer's step events carry them`);
  if (m.values.length !== m.names.length) throw new Error(`gradNormHeatmap: ${m.names.length} names but ${m.values.length} rows of values`);
  const log = m.values.map((row) => row.map((v) => (v > 0 && Number.isFinite(v) ? Math.log10(v) : NaN)));
  const finite = log.flat().filter(Number.isFinite);
  const lo = Math.floor(Math.min(...finite));
  const hi = Math.ceil(Math.max(...finite));
  const tickvals: number[] = [];
  for (let t = lo; t <= hi; t++) tickvals.push(t);
  const quantity = metric === "gradNorms" ? "gradient L2 norm" : "‖update‖ / ‖weight‖";
  const labels = shortNames(m.names);
  return {
    data: [
      {
        type: "heatmap",
        x: [...m.steps],
        y: labels,
        z: log.map((row) => row.map((v) => (Number.isFinite(v) ? v : null))),
        customdata: m.values.map((row) => row.map((v) => formatNumber(v))) as unknown as string[][],
        zmin: lo,
        zmax: hi === lo ? hi + 1 : hi,
        colorscale: "Viridis",
        colorbar: {
          title: { text: `${quantity}<br>(log scale)`, side: "right" },
          tickvals,
          ticktext: tickvals.map((t) => formatNumber(10 ** t)),
          thickness: 14,
        },
        hovertemplate: `%{y}<br>step %{x}<br>${quantity} %{customdata}<extra></extra>`,
        xgap: m.steps.length <= 60 ? 1 : 0,
        ygap: 1,
      },
    ],
    layout: baseLayout(
      {
        title:
          opts.title ??
          (metric === "gradNorms"
            ? "Gradient norm per " + (opts.groupBy === "layer" ? "layer" : "module")
            : "Relative update size per module"),
        height: opts.height ?? Math.min(900, Math.max(300, 160 + 22 * labels.length)),
      },
      {
        xaxis: axis("optimizer step", { showgrid: false }),
        // First row (input side) on top, as the names read.
        yaxis: axis(opts.groupBy === "layer" ? "layer" : "module", { autorange: "reversed", showgrid: false, type: "category" }),
        margin: { l: 64, r: 24, t: 64, b: 56 },
      },
    ),
  };
}
