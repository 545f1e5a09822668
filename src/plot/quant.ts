import type { Data } from "plotly.js";
import { axis, baseLayout, paletteColor, withAlpha } from "./theme.js";
import type { PlotFigure, PlotQuantInput } from "./types.js";

export interface QuantErrorFigureOptions {
  title?: string;
  /** Histogram bins over [-1, 1]. Default 60. */
  bins?: number;
  height?: number;
}

/** Density of N(0, std²) at x. */
function normalPdf(x: number, std: number): number {
  return Math.exp(-0.5 * (x / std) ** 2) / (std * Math.sqrt(2 * Math.PI));
}

/**
 * Where each 4-bit code book puts its 16 values against the weights they must represent (NF4
 * crowds them where normal weights are dense, FP4 and int4 do not), and the error that costs per
 * layer.
 */
export function quantErrorFigure(input: PlotQuantInput, opts: QuantErrorFigureOptions = {}): PlotFigure {
  if (input.codebooks.length === 0) throw new Error('quantErrorFigure: no code books given (e.g. { name: "NF4", codes: [...16 values] })');
  const errors = input.errors ?? [];
  const split = errors.length > 0;
  const leftDomain: [number, number] = split ? [0, 0.5] : [0, 1];
  const data: Data[] = [];
  if (input.normalizedWeights && input.normalizedWeights.length > 0) {
    // Binned here rather than by plotly: a layer has tens of thousands of weights and a saved
    // notebook or report should carry 60 bars, not every value.
    const bins = opts.bins ?? 60;
    const width = 2 / bins;
    const counts = new Array<number>(bins).fill(0);
    let n = 0;
    for (const w of input.normalizedWeights) {
      if (!(w >= -1 && w <= 1)) continue;
      counts[Math.min(bins - 1, Math.floor((w + 1) / width))]++;
      n++;
    }
    data.push({
      type: "bar",
      name: "weights ÷ block absmax",
      x: counts.map((_, i) => -1 + (i + 0.5) * width),
      y: counts.map((c) => (n > 0 ? c / (n * width) : 0)),
      width: width,
      marker: { color: withAlpha("#8C959F", 0.55), line: { color: "#FFFFFF", width: 0.5 } },
      hovertemplate: "w ≈ %{x:.3f}<br>density %{y:.3f}<extra></extra>",
    } as Data);
  }
  if (input.normalStd !== undefined) {
    const std = input.normalStd;
    const xs = Array.from({ length: 201 }, (_, i) => -1 + i / 100);
    data.push({
      type: "scatter",
      mode: "lines",
      name: `N(0, ${std}²) density`,
      x: xs,
      y: xs.map((x) => normalPdf(x, std)),
      line: { color: "#24292f", width: 1.5, dash: "dot" },
      hoverinfo: "skip",
    });
  }
  input.codebooks.forEach((cb, i) => {
    data.push({
      type: "scatter",
      mode: "markers",
      name: `${cb.name} code points (${cb.codes.length})`,
      x: [...cb.codes],
      y: cb.codes.map(() => cb.name),
      yaxis: "y2",
      marker: { symbol: "line-ns-open", size: 18, color: paletteColor(i), line: { width: 2.5, color: paletteColor(i) } },
      hovertemplate: `${cb.name}<br>code %{x:.4f}<extra></extra>`,
    });
  });
  const methods = [...new Set(errors.map((e) => e.method))];
  const layers = [...new Set(errors.map((e) => e.layer))];
  methods.forEach((m) => {
    // Same colour as the method's code book when one is given under that name.
    const k = input.codebooks.findIndex((cb) => cb.name === m);
    const color = paletteColor(k >= 0 ? k : input.codebooks.length + methods.indexOf(m));
    data.push({
      type: "bar",
      name: `${m} error`,
      x: layers,
      y: layers.map((l) => errors.find((e) => e.layer === l && e.method === m)?.error ?? null),
      xaxis: "x2",
      yaxis: "y3",
      marker: { color },
      hovertemplate: `${m}<br>%{x}<br>error %{y:.4g}<extra></extra>`,
    });
  });
  const layout = baseLayout(
    { title: opts.title ?? "4-bit code books and their error", height: opts.height ?? 520 },
    {
      xaxis: axis("weight ÷ block absmax", { domain: leftDomain, range: [-1.08, 1.08], anchor: "y2", zeroline: false }),
      yaxis: axis("density", { domain: [0.36, 1], rangemode: "tozero" }),
      yaxis2: axis("", { domain: [0, 0.26], anchor: "x", type: "category", showgrid: false, ticks: "" }),
      barmode: "group",
      showlegend: true,
      // Above the panels: below, it would collide with the slanted layer names.
      legend: { orientation: "h", x: 0, xanchor: "left", y: 1.04, yanchor: "bottom" },
      margin: { l: 64, r: 24, t: 110, b: 56 },
    },
  );
  if (split) {
    layout.xaxis2 = axis("layer", {
      domain: [0.62, 1],
      anchor: "y3",
      type: "category",
      tickangle: layers.some((l) => l.length > 8) && layers.length > 2 ? -30 : 0,
    });
    layout.yaxis3 = axis(input.errorTitle ?? "mean |w − dequant(w)|", { anchor: "x2", rangemode: "tozero" });
    // A long metric name must not reach up into the legend.
    layout.yaxis3.title = { ...(layout.yaxis3.title as object), font: { size: 12 } };
  }
  return { data, layout };
}
