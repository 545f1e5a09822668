import type { Annotations, Data, Shape } from "plotly.js";
import { effectiveRank, stableRank } from "../spectrum/index.js";
import { shortNames } from "./gradnorm.js";
import { axis, baseLayout, paletteColor } from "./theme.js";
import type { PlotFigure, PlotSpectrum } from "./types.js";

export interface RankSpectrumFigureOptions {
  title?: string;
  /** Divide each layer's σ by its largest, to compare shapes rather than sizes. Default false. */
  normalize?: boolean;
  /** How many leading singular values to draw. Default all. */
  maxIndex?: number;
  height?: number;
}

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
  const ranks = [...new Set(spectra.map((s) => s.loraRank).filter((r): r is number => r !== undefined))];
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
  const annotations: Partial<Annotations>[] = ranks.flatMap((r) => [
    { x: r, xref: "x", y: 1, yref: "paper", yanchor: "bottom", text: `LoRA r = ${r}`, showarrow: false, font: { color: "#9A6700" } },
    {
      x: 1,
      xref: "x2 domain",
      xanchor: "right",
      y: r,
      yref: "y2",
      yanchor: "bottom",
      text: `r = ${r}`,
      showarrow: false,
      font: { color: "#9A6700" },
    },
  ]);
  const longLabels = labels.some((l) => l.length > 8);
  return {
    data,
    layout: baseLayout(
      { title: opts.title ?? "Singular values of the weight updates", height: opts.height ?? 440 },
      {
        xaxis: axis("index i (largest first)", { domain: [0, 0.56] }),
        yaxis: axis(opts.normalize ? "σᵢ / σ₁" : "singular value σᵢ", { type: "log", exponentformat: "power" }),
        xaxis2: axis("layer", { domain: [0.66, 1], anchor: "y2", type: "category", tickangle: longLabels && labels.length > 1 ? -30 : 0 }),
        yaxis2: axis("rank (number of directions)", { anchor: "x2", rangemode: "tozero" }),
        shapes,
        annotations,
        showlegend: true,
        // On the right: below the plot it would collide with the slanted layer names.
        legend: { orientation: "v", x: 1.02, xanchor: "left", y: 1, yanchor: "top" },
        margin: { l: 64, r: 24, t: 72, b: 56 },
      },
    ),
  };
}
