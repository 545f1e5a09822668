import type { Annotations, Data, Shape } from "plotly.js";
import { axis, baseLayout, paletteColor, withAlpha } from "./theme.js";
import type { PlotFigure, PlotSchedule } from "./types.js";

export interface ScheduleFigureOptions {
  title?: string;
  /** Y axis title; default says whether values look like multipliers (peak 1) or learning rates. */
  yTitle?: string;
  height?: number;
}

/** The sampled (step, value) pairs of a schedule; a function is sampled at every step. */
export function sampleSchedule(s: PlotSchedule): { steps: number[]; values: number[] } {
  if (typeof s.lr === "function") {
    const f = s.lr;
    const last = s.numTrainingSteps ?? (s.steps ? Math.max(...s.steps) : undefined);
    if (last === undefined)
      throw new Error(`schedule "${s.name}": lr is a function, so give numTrainingSteps (or steps) to sample it over`);
    const steps = s.steps ? [...s.steps] : Array.from({ length: last + 1 }, (_, i) => i);
    return { steps, values: steps.map((t) => f(t)) };
  }
  const values = [...s.lr];
  const steps = s.steps ? [...s.steps] : values.map((_, i) => i);
  if (steps.length !== values.length)
    throw new Error(`schedule "${s.name}": ${steps.length} steps but ${values.length} lr values; give one value per step`);
  return { steps, values };
}

/**
 * Learning rate over steps, one curve per schedule, with the warmup phase shaded and the
 * decay phase labelled: the shape every fine-tuning recipe starts from.
 */
export function scheduleFigure(schedules: PlotSchedule | readonly PlotSchedule[], opts: ScheduleFigureOptions = {}): PlotFigure {
  const list = Array.isArray(schedules) ? (schedules as readonly PlotSchedule[]) : [schedules as PlotSchedule];
  if (list.length === 0) throw new Error("scheduleFigure: no schedules given");
  const sampled = list.map(sampleSchedule);
  const peak = Math.max(...sampled.flatMap((s) => s.values));
  const lastStep = Math.max(...sampled.flatMap((s) => s.steps));
  const data: Data[] = list.map((s, i) => ({
    type: "scatter",
    mode: "lines",
    name: s.warmupSteps ? `${s.name} (warmup ${s.warmupSteps})` : s.name,
    x: sampled[i].steps,
    y: sampled[i].values,
    line: { color: paletteColor(i), width: 2.5 },
    hovertemplate: `${s.name}<br>step %{x}<br>%{y:.4g}<extra></extra>`,
  }));

  const shapes: Partial<Shape>[] = [];
  const annotations: Partial<Annotations>[] = [];
  const warmups = [...new Set(list.map((s) => s.warmupSteps ?? 0).filter((w) => w > 0))].sort((a, b) => a - b);
  for (const w of warmups) {
    shapes.push({
      type: "rect",
      xref: "x",
      yref: "paper",
      x0: 0,
      x1: w,
      y0: 0,
      y1: 1,
      fillcolor: withAlpha("#E69F00", 0.12),
      line: { width: 0 },
      layer: "below",
    });
    shapes.push({ type: "line", xref: "x", yref: "paper", x0: w, x1: w, y0: 0, y1: 1, line: { color: "#8C959F", width: 1, dash: "dot" } });
  }
  if (warmups.length > 0) {
    const first = warmups[0];
    const endOfWarmup = warmups[warmups.length - 1];
    annotations.push({
      x: first / 2,
      xref: "x",
      y: 1,
      yref: "paper",
      yanchor: "bottom",
      text: "warmup",
      showarrow: false,
      font: { color: "#9A6700" },
    });
    annotations.push({
      x: (endOfWarmup + lastStep) / 2,
      xref: "x",
      y: 1,
      yref: "paper",
      yanchor: "bottom",
      text: "decay",
      showarrow: false,
      font: { color: "#57606a" },
    });
  }
  const looksLikeMultiplier = peak <= 1 + 1e-9 && peak >= 0.5;
  return {
    data,
    layout: baseLayout(
      { title: opts.title ?? "Learning-rate schedule", height: opts.height },
      {
        xaxis: axis("optimizer step", { rangemode: "tozero" }),
        yaxis: axis(opts.yTitle ?? (looksLikeMultiplier ? "LR multiplier (× peak LR)" : "learning rate"), {
          rangemode: "tozero",
          exponentformat: "power",
        }),
        shapes,
        annotations,
        showlegend: list.length > 1 || warmups.length > 0,
      },
    ),
  };
}
