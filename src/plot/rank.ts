import type { Annotations, Data, Shape } from "plotly.js";
import { effectiveRank, stableRank } from "../spectrum/index.js";
import { shortNames } from "./gradnorm.js";
import { legendBelow, lineHeight, NOMINAL_WIDTH, textWidth, wrapInto, wrapText } from "./fit.js";
import { axis, baseLayout, paletteColor } from "./theme.js";
import type { PlotFigure, PlotSpectrum } from "./types.js";

export interface RankSpectrumFigureOptions {
  title?: string;
  /** Divide each layer's σ by its largest, to compare shapes rather than sizes. Default false. */
  normalize?: boolean;
  /** How many leading singular values to draw. Default all. */
  maxIndex?: number;
  /** Total height in pixels; default 300 for the panels plus what the names and legend take. */
  height?: number;
  /** A fixed width in pixels; default the page's, laid out to fit from NOMINAL_WIDTH up. */
  width?: number;
}

const X1_DOMAIN: [number, number] = [0, 0.5];
/** The gap between the panels holds the right panel's "r = 8" labels. */
const X2_DOMAIN: [number, number] = [0.62, 1];
const PLOT_HEIGHT = 300;
/** A layer name breaks into two lines at most: more read as a list of words. */
const MAX_LINES = 2;
/** The least height left to the panels when a given `height` is short of what the names and legend take. */
const MIN_PLOT_HEIGHT = 160;
/** An x axis title and its standoff. */
const AXIS_TITLE = 32;

/**
 * Left: singular values of each layer's weight update (log scale), the LoRA rank r marked.
 * Right: stable and effective rank per layer, so "the update is low rank" is a number you can read.
 */
export function rankSpectrumFigure(spectra: readonly PlotSpectrum[], opts: RankSpectrumFigureOptions = {}): PlotFigure {
  if (spectra.length === 0) throw new Error("rankSpectrumFigure: no spectra given");
  const labels = shortNames(spectra.map((s) => s.layer));
  const data: Data[] = [];
  spectra.forEach((s, i) => {
    const sorted = [...s.singularValues].map(Math.abs).sort((a, b) => b - a);
    const shown = sorted.slice(0, opts.maxIndex ?? sorted.length);
    const top = sorted[0] || 1;
    data.push({
      type: "scatter",
      mode: shown.length <= 64 ? "lines+markers" : "lines",
      name: labels[i],
      legendgroup: labels[i],
      x: shown.map((_, k) => k + 1),
      y: shown.map((v) => (opts.normalize ? v / top : v)),
      line: { color: paletteColor(i), width: 2 },
      marker: { color: paletteColor(i), size: 5 },
      hovertemplate: `${labels[i]}<br>σ<sub>%{x}</sub> = %{y:.4g}<extra></extra>`,
    });
  });
  const stable = spectra.map((s) => s.stableRank ?? stableRank(s.singularValues));
  const eff = spectra.map((s) => s.effectiveRank ?? effectiveRank(s.singularValues));
  const common = { type: "scatter" as const, mode: "markers" as const, x: labels, xaxis: "x2", yaxis: "y2" };
  data.push(
    {
      ...common,
      name: "stable rank",
      y: stable,
      marker: { symbol: "diamond", size: 11, color: "#24292f" },
      hovertemplate: "%{x}<br>stable rank %{y:.2f}<extra></extra>",
    },
    {
      ...common,
      name: "effective rank",
      y: eff,
      marker: { symbol: "circle-open", size: 12, color: "#24292f", line: { width: 2 } },
      hovertemplate: "%{x}<br>effective rank %{y:.2f}<extra></extra>",
    },
  );
  const shapes: Partial<Shape>[] = [];
  const ranks = [...new Set(spectra.map((s) => s.loraRank).filter((r): r is number => r !== undefined))].sort((a, b) => a - b);
  for (const r of ranks) {
    shapes.push({
      type: "line",
      xref: "x",
      yref: "y domain",
      x0: r,
      x1: r,
      y0: 0,
      y1: 1,
      line: { color: "#E69F00", width: 2, dash: "dash" },
    });
    shapes.push({
      type: "line",
      xref: "x2 domain",
      yref: "y2",
      x0: 0,
      x1: 1,
      y0: r,
      y1: r,
      line: { color: "#E69F00", width: 2, dash: "dash" },
    });
  }

  // Laid out for a narrow page (fit.ts); a wider one only has more room. The layer names under
  // the right panel lie flat, wrapped, when they fit their column, else stand upright (never
  // slanted: a slanted name reaches under the left panel), wrapped into as many lines as the
  // column is wide (two at most), every k-th name only when even one line is wider than a column.
  // A given height too short for all that is raised: the panels keep MIN_PLOT_HEIGHT.
  const width = opts.width ?? NOMINAL_WIDTH;
  const margin = { l: 64, r: 64, t: 72 };
  const column = ((width - margin.l - margin.r) * (X2_DOMAIN[1] - X2_DOMAIN[0])) / labels.length;
  const widest = (lines: string[][]) => Math.max(...lines.flat().map((l) => textWidth(l)));
  const flatLines = labels.map((l) => wrapText(l, column - 8));
  const flat = widest(flatLines) + 8 <= column && flatLines.every((l) => l.length <= MAX_LINES);
  const uprightLines = labels.map((l) => wrapInto(l, Math.min(MAX_LINES, Math.max(1, Math.floor((column - 4) / lineHeight())))));
  const tickLines = flat ? flatLines : uprightLines;
  const tickHeight = flat ? Math.max(...flatLines.map((l) => l.length)) * lineHeight() : widest(uprightLines) + 8;
  const every = Math.max(1, Math.ceil((lineHeight() + 2) / column));
  const ticks = labels.map((l, i) => ({ l, text: tickLines[i].join("<br>") })).filter((_, i) => i % every === 0);
  const legend = legendBelow([...labels, "stable rank", "effective rank"], width);
  const b = tickHeight + AXIS_TITLE + legend.height;
  const height = Math.max(opts.height ?? margin.t + PLOT_HEIGHT + b, margin.t + MIN_PLOT_HEIGHT + b);

  // Rank labels sit in the gap left of the right panel, where no marker can be; one whose line is
  // too close to the previous one's is left out (its line still shows).
  const yMax2 = 1.08 * Math.max(1, ...stable, ...eff, ...ranks);
  const pxPerRank = (height - margin.t - b) / yMax2;
  const labelled: number[] = [];
  for (const r of ranks) if (labelled.length === 0 || (r - labelled[labelled.length - 1]) * pxPerRank >= lineHeight()) labelled.push(r);
  const annotations: Partial<Annotations>[] = [
    ...(ranks.length > 0
      ? [
          {
            x: ranks[0],
            xref: "x" as const,
            xanchor: "left" as const,
            y: 1,
            yref: "paper" as const,
            yanchor: "bottom" as const,
            text: `LoRA r = ${ranks.join(", ")}`,
            showarrow: false,
            font: { color: "#9A6700" },
          },
        ]
      : []),
    ...labelled.map((r) => ({
      x: 0,
      xref: "x2 domain" as const,
      xanchor: "right" as const,
      xshift: -4,
      y: r,
      yref: "y2" as const,
      yanchor: "middle" as const,
      text: `r = ${r}`,
      showarrow: false,
      font: { color: "#9A6700" },
    })),
  ];
  return {
    data,
    layout: baseLayout(
      {
        title: opts.title ?? "Singular values of the weight updates",
        height,
        ...(opts.width !== undefined ? { width: opts.width } : {}),
      },
      {
        xaxis: axis("index i (largest first)", { domain: X1_DOMAIN }),
        yaxis: axis(opts.normalize ? "σᵢ / σ₁" : "singular value σᵢ", { type: "log", exponentformat: "power" }),
        xaxis2: axis("layer", {
          domain: X2_DOMAIN,
          anchor: "y2",
          type: "category",
          tickangle: flat ? 0 : -90,
          tickmode: "array",
          tickvals: ticks.map((t) => t.l),
          ticktext: ticks.map((t) => t.text),
        }),
        // Ticks and title on the right, so nothing of the right panel sits between the two.
        yaxis2: axis("rank (directions)", { anchor: "x2", side: "right", range: [0, yMax2] }),
        shapes,
        annotations,
        showlegend: true,
        legend: legend.legend,
        margin: { ...margin, b },
      },
    ),
  };
}
