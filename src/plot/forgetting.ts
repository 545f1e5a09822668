import type { Annotations, Data } from "plotly.js";
import { legendBelow, lineHeight, markerBox, NOMINAL_WIDTH, placeLabels, textWidth, type LabelLayout } from "./fit.js";
import { axis, baseLayout, paletteColor } from "./theme.js";
import type { PlotFigure, PlotForgettingCurve, PlotLearnForgetPoint } from "./types.js";

export interface ForgettingFigureOptions {
  title?: string;
  /** "forgetting" (default): retained loss minus the base model's; "retainedLoss": the loss itself. */
  metric?: "forgetting" | "retainedLoss";
  height?: number;
  /** The run's name in the legend when the figure is given a retention history. Default "training". */
  strategy?: string;
}

/**
 * What the figure reads of one of trackRetention's records (forgetting/ RetentionRecord; plot/
 * imports nothing from forgetting/, so the shape is stated here and the records fit it as they are).
 */
export interface PlotRetentionRecord {
  step: number;
  /** Mean token loss per evaluated set. */
  losses: Readonly<Record<string, number>>;
  /** Per retained set: its loss minus the base model's. */
  forgetting: Readonly<Record<string, number>>;
}

/** Curves, a retention history (`tracker.history`), or the tracker itself. */
export type ForgettingFigureInput =
  readonly PlotForgettingCurve[] | readonly PlotRetentionRecord[] | { history: readonly PlotRetentionRecord[] };

const NATS = "nats/token";

/**
 * A retention history as curves: one per retained set (named `strategy`, or `strategy: set` when
 * there are several), its baseline the record's loss minus its forgetting; when exactly one
 * evaluated set is not retained (the new domain), its loss is the first curve's targetLoss.
 */
export function retentionCurves(history: readonly PlotRetentionRecord[], strategy = "training"): PlotForgettingCurve[] {
  const retained = [...new Set(history.flatMap((r) => Object.keys(r.forgetting)))];
  if (retained.length === 0)
    throw new Error(`forgettingFigure: the retention history (${history.length} records) has no retained set with forgetting values`);
  const others = [...new Set(history.flatMap((r) => Object.keys(r.losses)))].filter((n) => !retained.includes(n));
  const target = others.length === 1 ? others[0] : undefined;
  return retained.map((set, i) => {
    const records = history.filter((r) => set in r.forgetting);
    return {
      strategy: retained.length === 1 ? strategy : `${strategy}: ${set}`,
      baselineLoss: records[0].losses[set] - records[0].forgetting[set],
      points: records.map((r) => ({
        step: r.step,
        retainedLoss: r.losses[set],
        ...(i === 0 && target !== undefined && target in r.losses ? { targetLoss: r.losses[target] } : {}),
      })),
    };
  });
}

function asCurves(input: ForgettingFigureInput, strategy: string | undefined): readonly PlotForgettingCurve[] {
  const items = "history" in input ? input.history : input;
  if (items.length === 0)
    throw new Error("history" in input ? "forgettingFigure: the retention history is empty" : "forgettingFigure: no strategies given");
  return "strategy" in items[0]
    ? (items as readonly PlotForgettingCurve[])
    : retentionCurves(items as readonly PlotRetentionRecord[], strategy);
}

/**
 * How much of the old domain each strategy forgets as it trains; when curves carry the new
 * domain's loss too, a second panel shows what each learned, so the trade-off reads side by side.
 * Takes curves, or trackRetention's tracker / history as it is (baseline at step 0 included).
 */
export function forgettingFigure(input: ForgettingFigureInput, opts: ForgettingFigureOptions = {}): PlotFigure {
  const curves = asCurves(input, opts.strategy);
  const metric = opts.metric ?? "forgetting";
  const withTarget = curves.some((c) => c.points.some((p) => p.targetLoss !== undefined));
  const data: Data[] = [];
  curves.forEach((c, i) => {
    if (c.points.length === 0) throw new Error(`forgettingFigure: strategy "${c.strategy}" has no points`);
    const pts = [...c.points].sort((a, b) => a.step - b.step);
    const base = c.baselineLoss ?? pts[0].retainedLoss;
    const color = paletteColor(i);
    const y = pts.map((p) => (metric === "forgetting" ? p.retainedLoss - base : p.retainedLoss));
    data.push({
      type: "scatter",
      mode: "lines+markers",
      name: c.strategy,
      legendgroup: c.strategy,
      x: pts.map((p) => p.step),
      y,
      line: { color, width: 2.5 },
      marker: { color, size: 6 },
      hovertemplate: `${c.strategy}<br>step %{x}<br>${metric === "forgetting" ? "forgetting" : "retained loss"} %{y:.4f} ${NATS}<extra></extra>`,
    });
    const tp = pts.filter((p) => p.targetLoss !== undefined);
    if (withTarget && tp.length > 0) {
      data.push({
        type: "scatter",
        mode: "lines+markers",
        name: c.strategy,
        legendgroup: c.strategy,
        showlegend: false,
        xaxis: "x2",
        yaxis: "y2",
        x: tp.map((p) => p.step),
        y: tp.map((p) => p.targetLoss!),
        line: { color, width: 2.5, dash: "dot" },
        marker: { color, size: 6, symbol: "diamond" },
        hovertemplate: `${c.strategy}<br>step %{x}<br>new-domain loss %{y:.4f} ${NATS}<extra></extra>`,
      });
    }
  });
  const leftTitle = metric === "forgetting" ? `Δ loss vs. base model (${NATS})` : `retained-set loss (${NATS})`;
  const extra: Record<string, unknown> = {
    xaxis: axis("optimizer step", withTarget ? { domain: [0, 0.46] } : {}),
    yaxis: axis(leftTitle, metric === "forgetting" ? { zeroline: true, zerolinewidth: 2 } : {}),
    showlegend: true,
  };
  const annotations: Partial<Annotations>[] = [];
  if (withTarget) {
    extra.xaxis2 = axis("optimizer step", { domain: [0.56, 1], anchor: "y2" });
    extra.yaxis2 = axis(`new-domain loss (${NATS})`, { anchor: "x2" });
    const panel = (x: number, text: string): Partial<Annotations> => ({
      x,
      xref: "paper",
      xanchor: "center",
      y: 1.02,
      yref: "paper",
      yanchor: "bottom",
      text: `<b>${text}</b>`,
      showarrow: false,
    });
    annotations.push(
      panel(0.23, "old domain: what is forgotten (lower is better)"),
      panel(0.78, "new domain: what is learned (lower is better)"),
    );
    extra.annotations = annotations;
  }
  return {
    data,
    layout: baseLayout(
      {
        title: opts.title ?? (metric === "forgetting" ? "Forgetting per strategy" : "Retained-set loss per strategy"),
        height: opts.height ?? 460,
      },
      {
        ...extra,
        margin: { l: 64, r: 24, t: withTarget ? 96 : 64, b: 56 },
      },
    ),
  };
}

export interface LearnForgetFigureOptions {
  title?: string;
  /** Total height in pixels; default 310 for the plot plus the titles and the legend's rows. */
  height?: number;
  /** A fixed width in pixels; default the page's, labels placed to fit from NOMINAL_WIDTH up. */
  width?: number;
}

const LF_MARGIN = { l: 80, r: 24, t: 84 };
/** x tick labels and the x axis title under the plotting area. */
const LF_AXIS_BELOW = 64;
/** Tall enough for the y axis title to fit along it. */
const LF_PLOT_HEIGHT = 310;
const LF_MIN_PLOT_HEIGHT = 200;
const LF_MARKER = { end: 13, checkpoint: 8 };
const BASE_LABEL = { text: "base model", size: 11, ax: 30, ay: -18 };

/**
 * The trade-off in one picture: what each strategy learned (new-domain gain) against what it
 * forgot, one point per strategy or a path through its checkpoints. Up and left is better.
 * Strategies of a notebook's study often land close together, so each label takes a position
 * around its marker that covers no other label or marker (fit.ts placeLabels); one with no room
 * becomes the strategy's number, its legend entry numbered too, and if even that has no room it
 * is left to the hover text and the legend's colour.
 */
export function learnForgetFigure(points: readonly PlotLearnForgetPoint[], opts: LearnForgetFigureOptions = {}): PlotFigure {
  if (points.length === 0) throw new Error("learnForgetFigure: no points given");
  const strategies = [...new Set(points.map((p) => p.strategy))];
  const xs = points.map((p) => p.forgetting);
  const ys = points.map((p) => p.gain);
  const xMin = Math.min(0, ...xs);
  const xMax = Math.max(0, ...xs);
  const span = xMax - xMin || 1;
  const yMin = Math.min(0, ...ys);
  const yMax = Math.max(0, ...ys);
  const ySpan = yMax - yMin || 1;
  const xRange = [xMin - 0.06 * span, xMax + 0.06 * span];
  const yRange = [yMin - 0.06 * ySpan, yMax + 0.12 * ySpan];

  const series = strategies.map((s) => {
    const pts = points.filter((p) => p.strategy === s).sort((a, b) => (a.step ?? 0) - (b.step ?? 0));
    const path = pts.length > 1;
    const labels = pts.map((p) => p.label ?? (path && p.step !== undefined ? `${s}, step ${p.step}` : s));
    // Label a path at its end only; every point's label would pile up.
    const text = labels.map((l, k) => (path && k !== pts.length - 1 && pts[k].label === undefined ? "" : l));
    const sizes = pts.map((_, k) => (k === pts.length - 1 ? LF_MARKER.end : LF_MARKER.checkpoint));
    return { s, pts, path, labels, text, sizes };
  });

  const legend = legendBelow(
    strategies.map((s, i) => `${i + 1} ${s}`),
    opts.width ?? NOMINAL_WIDTH,
  );
  const margin = { ...LF_MARGIN, b: LF_AXIS_BELOW + legend.height };
  // A given height too short for the legend still leaves the plot LF_MIN_PLOT_HEIGHT.
  const height = Math.max(opts.height ?? LF_MARGIN.t + LF_PLOT_HEIGHT + margin.b, LF_MARGIN.t + LF_MIN_PLOT_HEIGHT + margin.b);
  const widths = opts.width !== undefined ? [opts.width] : [NOMINAL_WIDTH, 1.4 * NOMINAL_WIDTH, 1.8 * NOMINAL_WIDTH];
  const placed = series.flatMap((t, i) => t.text.map((text, k) => ({ i, k, text }))).filter((l) => l.text !== "");
  const layoutAt = (width: number, texts: readonly string[]): LabelLayout => {
    const frame = { x0: margin.l, y0: margin.t, x1: width - margin.r, y1: height - margin.b };
    const px = (x: number) => frame.x0 + ((x - xRange[0]) / (xRange[1] - xRange[0])) * (frame.x1 - frame.x0);
    const py = (y: number) => frame.y1 - ((y - yRange[0]) / (yRange[1] - yRange[0])) * (frame.y1 - frame.y0);
    const markers = series.flatMap((t) => t.pts.map((p, k) => markerBox(px(p.forgetting), py(p.gain), t.sizes[k])));
    // The "base model" note at the origin: its arrow and its text, centred on the arrow's tail.
    const ox = px(0);
    const oy = py(0);
    const tw = textWidth(BASE_LABEL.text, BASE_LABEL.size) / 2;
    const th = lineHeight(BASE_LABEL.size) / 2;
    const obstacles = [
      { x0: ox, y0: oy + BASE_LABEL.ay, x1: ox + BASE_LABEL.ax, y1: oy },
      { x0: ox + BASE_LABEL.ax - tw, y0: oy + BASE_LABEL.ay - th, x1: ox + BASE_LABEL.ax + tw, y1: oy + BASE_LABEL.ay + th },
    ];
    const labels = placed.map((l, n) => {
      const p = series[l.i].pts[l.k];
      return { x: px(p.forgetting), y: py(p.gain), markerSize: series[l.i].sizes[l.k], text: texts[n] };
    });
    return { labels, markers, obstacles, frame };
  };
  const place = (texts: readonly string[]) => placeLabels(widths.map((w) => layoutAt(w, texts)));
  let texts = placed.map((l) => l.text);
  let positions = place(texts);
  if (positions.includes(undefined)) {
    texts = texts.map((t, n) => (positions[n] === undefined ? String(placed[n].i + 1) : t));
    positions = place(texts);
  }
  const numbered = new Set(placed.filter((l, n) => positions[n] !== undefined && texts[n] !== l.text).map((l) => l.i));

  const data: Data[] = series.map((t, i) => {
    const text = [...t.text];
    const textposition: string[] = t.pts.map(() => "top right");
    placed.forEach((l, n) => {
      if (l.i !== i) return;
      text[l.k] = positions[n] === undefined ? "" : texts[n];
      textposition[l.k] = positions[n] ?? "top right";
    });
    const trace: Data = {
      type: "scatter",
      mode: t.path ? "text+lines+markers" : "text+markers",
      name: numbered.has(i) ? `${i + 1} ${t.s}` : t.s,
      x: t.pts.map((p) => p.forgetting),
      y: t.pts.map((p) => p.gain),
      text,
      textposition: textposition as unknown as "top right",
      customdata: t.labels,
      line: { color: paletteColor(i), width: 1.5 },
      marker: { color: paletteColor(i), size: t.sizes, line: { color: "#FFFFFF", width: 1 } },
      cliponaxis: false,
      hovertemplate: `%{customdata}<br>forgetting %{x:.4f} ${NATS}<br>gain %{y:.4f} ${NATS}<extra></extra>`,
    };
    return trace;
  });
  return {
    data,
    layout: baseLayout(
      {
        title: opts.title ?? "Learning vs. forgetting",
        subtitle: "up = learned more of the new domain, left = forgot less of the old one",
        height,
        ...(opts.width !== undefined ? { width: opts.width } : {}),
      },
      {
        // Zero in view on both axes: the base model sits at the origin.
        xaxis: axis(`forgetting: Δ retained-set loss (${NATS})`, {
          zeroline: true,
          zerolinewidth: 2,
          range: xRange,
        }),
        yaxis: axis(`gain: new-domain loss decrease (${NATS})`, {
          zeroline: true,
          zerolinewidth: 2,
          range: yRange,
        }),
        annotations: [
          {
            x: 0,
            xref: "paper",
            xanchor: "left",
            y: 1,
            yref: "paper",
            yanchor: "bottom",
            text: "↖ better: more learned, less forgotten",
            showarrow: false,
            font: { color: "#1A7F37", size: 12 },
          },
          {
            x: 0,
            xref: "x",
            y: 0,
            yref: "y",
            text: BASE_LABEL.text,
            showarrow: true,
            arrowhead: 0,
            ax: BASE_LABEL.ax,
            ay: BASE_LABEL.ay,
            font: { color: "#57606a", size: BASE_LABEL.size },
          },
        ],
        showlegend: true,
        legend: legend.legend,
        margin,
      },
    ),
  };
}
