import type { Data } from "plotly.js";
import { emaSmooth, evalEvents, stepEvents, toRuns } from "./events.js";
import { axis, baseLayout, paletteColor, withAlpha } from "./theme.js";
import type { PlotFigure, PlotRun, PlotTrainEvent } from "./types.js";

export interface LossFigureOptions {
  title?: string;
  /** EMA weight for the training curve (0 = raw only). Default 0.6 when a run has > 50 steps, else 0. */
  smoothing?: number;
  logY?: boolean;
  height?: number;
}

const EVAL_DASH = ["dash", "dot", "dashdot", "longdash"] as const;
const EVAL_SYMBOL = ["circle", "diamond", "square", "triangle-up"] as const;

/**
 * Training loss (raw and smoothed) and evaluation losses per set over steps, for one or several
 * runs. Colour tells the run apart; line style tells train from each evaluation set.
 */
export function lossFigure(runs: PlotRun | readonly PlotRun[] | readonly PlotTrainEvent[], opts: LossFigureOptions = {}): PlotFigure {
  const list = toRuns(runs);
  const data: Data[] = [];
  const single = list.length === 1;
  const evalSetIndex = new Map<string, number>();
  list.forEach((run, r) => {
    const name = run.name ?? (single ? "" : `run ${r + 1}`);
    const prefix = name ? `${name}: ` : "";
    const color = paletteColor(r);
    const steps = stepEvents(run.events);
    if (steps.length > 0) {
      const x = steps.map((e) => e.step);
      const y = steps.map((e) => e.loss);
      const w = opts.smoothing ?? (steps.length > 50 ? 0.6 : 0);
      const smoothed = w > 0;
      data.push({
        type: "scatter",
        mode: steps.length === 1 ? "markers" : "lines",
        name: `${prefix}train${smoothed ? " (raw)" : ""}`,
        legendgroup: `run${r}`,
        x,
        y,
        line: { color: smoothed ? withAlpha(color, 0.3) : color, width: smoothed ? 1 : 2 },
        marker: { color },
        hovertemplate: `${prefix}train<br>step %{x}<br>loss %{y:.4f}<extra></extra>`,
        showlegend: !smoothed,
      });
      if (smoothed) {
        data.push({
          type: "scatter",
          mode: "lines",
          name: `${prefix}train (EMA ${w})`,
          legendgroup: `run${r}`,
          x,
          y: emaSmooth(y, w),
          line: { color, width: 2.5 },
          hovertemplate: `${prefix}train, smoothed<br>step %{x}<br>loss %{y:.4f}<extra></extra>`,
        });
      }
    }
    const evals = evalEvents(run.events);
    const sets = [...new Set(evals.flatMap((e) => Object.keys(e.losses)))];
    for (const set of sets) {
      if (!evalSetIndex.has(set)) evalSetIndex.set(set, evalSetIndex.size);
      const k = evalSetIndex.get(set)!;
      const points = evals.filter((e) => Number.isFinite(e.losses[set]));
      // With one run, colours separate the sets; with several, colour is the run.
      const c = single ? paletteColor(k + 1) : color;
      data.push({
        type: "scatter",
        mode: "lines+markers",
        name: `${prefix}eval: ${set}`,
        legendgroup: `run${r}`,
        x: points.map((e) => e.step),
        y: points.map((e) => e.losses[set]),
        line: { color: c, width: 2, dash: EVAL_DASH[k % EVAL_DASH.length] },
        marker: { color: c, size: 7, symbol: EVAL_SYMBOL[k % EVAL_SYMBOL.length] },
        hovertemplate: `${prefix}eval "${set}"<br>step %{x}<br>loss %{y:.4f}<extra></extra>`,
      });
    }
  });
  if (data.length === 0) throw new Error("lossFigure: no step events (with a loss) or eval events (with losses) in the runs given");
  return {
    data,
    layout: baseLayout(
      { title: opts.title ?? "Loss", height: opts.height },
      {
        xaxis: axis("optimizer step"),
        yaxis: axis("cross-entropy loss (nats/token)", opts.logY ? { type: "log" } : {}),
        showlegend: true,
      },
    ),
  };
}
