import type { Config } from "plotly.js";
import { escapeHtml, jsonForScript, plotlyCdnUrl, plotlyJsSource, type PlotlyJsMode } from "./plotlyjs.js";
import type { PlotFigure } from "./types.js";

export const PLOTLY_MIME = "application/vnd.plotly.v1+json";

/** What one Jupyter display_data carries for a figure; front ends pick the richest type they render. */
export interface PlotMimeBundle {
  [PLOTLY_MIME]: { data: unknown[]; layout: Record<string, unknown>; config: Record<string, unknown> };
  "text/html": string;
  "text/plain": string;
  [mime: string]: unknown;
}

export interface FigureBundleOptions {
  /**
   * plotly.js in the HTML: "inline" (the npm copy, 4.8 MB, works offline), "cdn" (a script tag,
   * needs the network), "omit" (the page already has it, e.g. from an earlier output). Default "inline".
   */
  plotlyJs?: PlotlyJsMode;
  /** The div's id; default a fresh random one (a re-rendered output must not find the old div). */
  elementId?: string;
}

export const DEFAULT_PLOT_CONFIG: Partial<Config> = {
  responsive: true,
  displaylogo: false,
  modeBarButtonsToRemove: ["select2d", "lasso2d"],
};

let counter = 0;
export function newElementId(): string {
  return `lora-lab-plot-${Date.now().toString(36)}-${(counter++).toString(36)}-${Math.random().toString(36).slice(2, 8)}`;
}

/** The figure as plain JSON (no typed arrays, functions or undefined), config merged with the defaults. */
export function figureJson(figure: PlotFigure): PlotMimeBundle[typeof PLOTLY_MIME] {
  const plain = JSON.parse(
    JSON.stringify({ data: figure.data, layout: figure.layout, config: { ...DEFAULT_PLOT_CONFIG, ...figure.config } }),
  );
  return plain;
}

function stripTags(s: string): string {
  return s
    .replace(/<br\s*\/?>/gi, " — ")
    .replace(/<[^>]*>/g, "")
    .trim();
}

/** One line a terminal or a text-only front end can show: title, traces, axes. */
export function figureSummary(figure: PlotFigure): string {
  const layout = figure.layout as Record<string, unknown>;
  const titleOf = (t: unknown) => stripTags(typeof t === "string" ? t : ((t as { text?: string } | undefined)?.text ?? ""));
  const title = titleOf(layout.title);
  const types = new Map<string, number>();
  for (const t of figure.data) {
    const type = (t as { type?: string }).type ?? "scatter";
    types.set(type, (types.get(type) ?? 0) + 1);
  }
  const traces = [...types].map(([t, n]) => (n > 1 ? `${t} ×${n}` : t)).join(", ");
  const axes = Object.keys(layout)
    .filter((k) => /^[xy]axis\d*$/.test(k))
    .sort()
    .map((k) => `${k.replace("axis", "")}: ${titleOf((layout[k] as { title?: unknown }).title)}`)
    .filter((s) => !s.endsWith(": "));
  return `[Plotly figure${title ? ` "${title}"` : ""}: ${figure.data.length} trace${figure.data.length === 1 ? "" : "s"} (${traces})${axes.length ? `; ${axes.join("; ")}` : ""}]`;
}

/**
 * The script that draws one figure into its div. It waits for window.Plotly because the inline
 * copy may sit in an earlier output of the page, and says what to do if it never comes.
 */
export function drawScript(elementId: string, figureJsonText: string, mode: PlotlyJsMode): string {
  const id = JSON.stringify(elementId);
  const cdn =
    mode === "cdn"
      ? `if (!window.Plotly && !document.getElementById("lora-lab-plotly-js")) { var s = document.createElement("script"); s.id = "lora-lab-plotly-js"; s.src = ${JSON.stringify(plotlyCdnUrl())}; document.head.appendChild(s); }`
      : "";
  return `(function () {
  var el = document.getElementById(${id});
  if (!el) return;
  var fig = ${figureJsonText};
  function draw() { var w = el.querySelector(".lora-lab-plot-wait"); if (w) w.parentNode.removeChild(w); window.Plotly.newPlot(el, fig.data, fig.layout, fig.config); }
  if (window.Plotly) { draw(); return; }
  ${cdn}
  var tries = 0;
  var timer = setInterval(function () {
    if (window.Plotly) { clearInterval(timer); draw(); }
    else if (++tries > 150) { clearInterval(timer); var w = el.querySelector(".lora-lab-plot-wait"); if (w) w.textContent = "plotly.js is not loaded in this page: show the figure again with { plotlyJs: \\"inline\\" } (or \\"cdn\\" when online)."; }
  }, 100);
})();`;
}

/** A div plus the scripts that fill it: the text/html of a notebook output. */
export function figureHtml(figure: PlotFigure, opts: FigureBundleOptions = {}): string {
  const mode = opts.plotlyJs ?? "inline";
  const id = opts.elementId ?? newElementId();
  const height = typeof figure.layout.height === "number" ? figure.layout.height : 450;
  const lib = mode === "inline" ? `<script type="text/javascript">${plotlyJsSource()}</script>\n` : "";
  return (
    `<div id="${escapeHtml(id)}" class="lora-lab-plot" style="width:100%;min-height:${height}px;">` +
    `<span class="lora-lab-plot-wait" style="font:13px sans-serif;color:#57606a">Loading plot…</span></div>\n` +
    lib +
    `<script type="text/javascript">${drawScript(id, jsonForScript(figureJson(figure)), mode)}</script>`
  );
}

/**
 * The MIME bundle of one notebook output: the Plotly JSON (VS Code, JupyterLab with the plotly
 * extension), HTML (JupyterLab, classic notebook, nbconvert) and a one-line text summary.
 */
export function figureBundle(figure: PlotFigure, opts: FigureBundleOptions = {}): PlotMimeBundle {
  return {
    [PLOTLY_MIME]: figureJson(figure),
    "text/html": figureHtml(figure, opts),
    "text/plain": figureSummary(figure),
  };
}
