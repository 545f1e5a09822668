import { createRequire } from "node:module";
import { join } from "node:path";
import { inspect } from "node:util";
import { figureBundle, newElementId, type PlotMimeBundle } from "./bundle.js";
import type { PlotlyJsMode } from "./plotlyjs.js";
import type { PlotFigure } from "./types.js";

/** Where a lora-lab kernel puts its multi-MIME display function (one display_data, many types). */
export const PLOT_DISPLAY_HOOK = Symbol.for("lora-lab.display");

/** The content of a Jupyter display_data / update_display_data message. */
export interface PlotDisplayContent {
  data: Record<string, unknown>;
  metadata: Record<string, unknown>;
  transient: { display_id: string };
}

/**
 * The kernel's display function, shaped as tslab's internal `lastWriteDisplayData(content, update)`:
 * `update` false sends display_data, true sends update_display_data for `transient.display_id`.
 */
export type PlotDisplayHook = (content: PlotDisplayContent, update: boolean) => void;

/** The part of tslab used here: `newDisplay()` (display id, updates) and `display` (plain). */
export interface PlotTslabLike {
  display: { html(s: string): void };
  newDisplay?: () => { html(s: string): void };
}

export interface ShowOptions {
  /** plotly.js in the HTML; default "inline" for the first figure shown in this process, then "omit". */
  plotlyJs?: PlotlyJsMode;
  /** Reuse an id to replace an earlier output; default a fresh one. */
  displayId?: string;
  /** The display function; default `globalThis[Symbol.for("lora-lab.display")]`. */
  display?: PlotDisplayHook;
  /** tslab's module; default found with require("tslab"). null: do not look. */
  tslab?: PlotTslabLike | null;
  /** Where plain Node prints the summary. Default console.log. */
  print?: (line: string) => void;
}

export type ShownVia = "lora-lab" | "tslab" | "text";

/** A figure on screen; `update` redraws it in place (same output) with a new figure. */
export interface PlotHandle {
  readonly displayId: string;
  readonly via: ShownVia;
  /** The bundle last sent (or, in plain Node, that would have been). */
  readonly bundle: PlotMimeBundle;
  update(figure: PlotFigure): void;
}

// Process-wide, because cells may load this module by import and by require.
const SENT = Symbol.for("lora-lab.plot.plotlyJsSent");
type Global = Record<symbol, unknown>;

function findTslab(): PlotTslabLike | undefined {
  // require("tslab") must return the copy running the kernel: resolve it from the kernel's main
  // script first, then from the notebook's folder, then from here.
  const local = createRequire(import.meta.url);
  const bases = [local.main?.filename, join(process.cwd(), "noop.js"), import.meta.url].filter((b): b is string => !!b);
  for (const base of bases) {
    try {
      const t = createRequire(base)("tslab") as PlotTslabLike;
      if (typeof t?.display?.html === "function") return t;
    } catch {
      // not there; try the next place
    }
  }
  return undefined;
}

/**
 * Shows a figure in the notebook: through the lora-lab kernel's display hook as ONE output with
 * Plotly JSON, HTML and text; under stock tslab (one MIME type per message) as HTML; in plain Node
 * as a one-line summary. Returns a handle whose `update(figure)` redraws the same output.
 */
export function show(figure: PlotFigure, opts: ShowOptions = {}): PlotHandle {
  const g = globalThis as unknown as Global;
  const hook = opts.display ?? (typeof g[PLOT_DISPLAY_HOOK] === "function" ? (g[PLOT_DISPLAY_HOOK] as PlotDisplayHook) : undefined);
  const displayId = opts.displayId ?? newElementId();
  // The first figure of a session carries plotly.js; later ones find it on the page. An output
  // keeps its mode when updated, so a saved notebook whose first plot was live-updated still has it.
  // LORA_LAB_PLOTLYJS=cdn makes every figure fetch plotly.js from its CDN instead (4.8 MB less per
  // saved notebook: how the committed notebooks are executed).
  const envMode = typeof process !== "undefined" ? process.env?.LORA_LAB_PLOTLYJS : undefined;
  if (envMode !== undefined && envMode !== "cdn" && envMode !== "inline")
    throw new Error(`LORA_LAB_PLOTLYJS must be "cdn" or "inline", got "${envMode}"`);
  const mode: PlotlyJsMode = opts.plotlyJs ?? (envMode === "cdn" ? "cdn" : g[SENT] ? "omit" : "inline");

  let via: ShownVia = "text";
  let send: (bundle: PlotMimeBundle, update: boolean) => void = () => undefined;
  let bundle = figureBundle(figure, { plotlyJs: mode });
  if (hook) {
    via = "lora-lab";
    send = (b, update) => hook({ data: b, metadata: {}, transient: { display_id: displayId } }, update);
  } else {
    const tslab = opts.tslab === null ? undefined : (opts.tslab ?? findTslab());
    if (tslab) {
      const target = tslab.newDisplay ? tslab.newDisplay() : tslab.display;
      via = "tslab";
      // Stock tslab sends one MIME type per message: HTML renders in every front end.
      send = (b) => target.html(b["text/html"]);
    }
  }
  if (via !== "text") {
    try {
      send(bundle, false);
      if (mode === "inline") g[SENT] = true;
    } catch (err) {
      // tslab outside a running cell throws "Not ready": fall back to text rather than fail the cell.
      if (via !== "tslab") throw err;
      via = "text";
    }
  }
  if (via === "text") (opts.print ?? console.log)(bundle["text/plain"]);

  const handle: PlotHandle & { [inspect.custom](): string } = {
    displayId,
    via,
    get bundle() {
      return bundle;
    },
    update(next: PlotFigure) {
      bundle = figureBundle(next, { plotlyJs: mode });
      if (via !== "text") send(bundle, true);
    },
    // A cell whose last expression is show(...) prints this, not 5 MB of HTML.
    [inspect.custom]() {
      return `PlotHandle { displayId: ${JSON.stringify(displayId)}, via: "${via}", figure: ${bundle["text/plain"]} }`;
    },
  };
  return handle;
}
