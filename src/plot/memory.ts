import type { Data } from "plotly.js";
import { axis, baseLayout, byteUnit, formatBytes, paletteColor } from "./theme.js";
import type { PlotFigure, PlotMemoryBar } from "./types.js";

export interface MemoryFigureOptions {
  title?: string;
  height?: number;
}

/**
 * Training memory of each method as stacked bars (weights, gradients, optimizer states,
 * activations, ...), in the binary unit that suits the largest total, the total written on top.
 */
export function memoryFigure(bars: readonly PlotMemoryBar[], opts: MemoryFigureOptions = {}): PlotFigure {
  if (bars.length === 0) throw new Error("memoryFigure: no methods given");
  const parts = [...new Set(bars.flatMap((b) => Object.keys(b.parts)))];
  const totals = bars.map((b) => Object.values(b.parts).reduce((s, v) => s + v, 0));
  const { unit, divisor } = byteUnit(Math.max(...totals));
  const methods = bars.map((b) => b.method);
  const data: Data[] = parts.map((p, i) => ({
    type: "bar",
    name: p,
    x: methods,
    y: bars.map((b) => (b.parts[p] ?? 0) / divisor),
    customdata: bars.map((b) => formatBytes(b.parts[p] ?? 0)),
    marker: { color: paletteColor(i), line: { color: "#FFFFFF", width: 1 } },
    hovertemplate: `%{x}<br>${p}: %{customdata}<extra></extra>`,
  }));
  // Totals as an invisible trace's text, so they sit above each stack.
  data.push({
    type: "scatter",
    mode: "text",
    name: "total",
    x: methods,
    y: totals.map((t) => t / divisor),
    // Parts under 2% of a bar are too thin to see: name them above it.
    text: bars.map((b, i) => {
      const thin = parts.filter((p) => (b.parts[p] ?? 0) > 0 && (b.parts[p] ?? 0) < 0.02 * totals[i]);
      return [
        ...thin.map((p) => `<span style="font-size:11px">${p}: ${formatBytes(b.parts[p])}</span>`),
        `<b>${formatBytes(totals[i])}</b>`,
      ].join("<br>");
    }),
    textposition: "top center",
    cliponaxis: false,
    showlegend: false,
    hoverinfo: "skip",
  });
  return {
    data,
    layout: baseLayout(
      { title: opts.title ?? "Training memory by method", height: opts.height ?? 440 },
      {
        barmode: "stack",
        xaxis: axis("method", { type: "category" }),
        yaxis: axis(`memory (${unit})`, { rangemode: "tozero" }),
        legend: { title: { text: "part" }, orientation: "v", x: 1.02, xanchor: "left", y: 1, yanchor: "top" },
        margin: { l: 64, r: 24, t: 72, b: 56 },
      },
    ),
  };
}
