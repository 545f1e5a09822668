import { randomBytes } from "node:crypto";
import { mkdir, rename, unlink, writeFile } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { figureJson } from "./bundle.js";
import { escapeHtml, jsonForScript, plotlyCdnUrl, plotlyJsSource } from "./plotlyjs.js";
import { formatNumber } from "./theme.js";
import type { PlotFigure } from "./types.js";

/** Rows as objects (columns: their keys, in first-seen order) or explicit columns and rows. */
export type PlotReportTable = readonly Record<string, unknown>[] | { columns: readonly string[]; rows: readonly (readonly unknown[])[] };

/**
 * One piece of a report. A bare string is a paragraph and a bare figure a figure; the object
 * forms add headings, captions, tables and trusted raw HTML.
 */
export type PlotReportSection =
  | string
  | PlotFigure
  | { heading: string; level?: 1 | 2 | 3 }
  | { text: string }
  | { figure: PlotFigure; caption?: string }
  | { table: PlotReportTable; caption?: string }
  | { html: string };

export interface ReportOptions {
  /** Page title and first heading. Default "lora-lab report". */
  title?: string;
  /** plotly.js inlined once (default: the page works offline, ~4.8 MB) or loaded from the CDN. */
  plotlyJs?: "inline" | "cdn";
}

function isFigure(s: unknown): s is PlotFigure {
  return typeof s === "object" && s !== null && Array.isArray((s as PlotFigure).data) && typeof (s as PlotFigure).layout === "object";
}

function cell(v: unknown): string {
  if (typeof v === "number") return formatNumber(v);
  if (v === null || v === undefined) return "";
  return escapeHtml(typeof v === "string" ? v : JSON.stringify(v));
}

function tableHtml(table: PlotReportTable, caption?: string): string {
  let columns: string[];
  let rows: unknown[][];
  if (Array.isArray(table)) {
    const objs = table as readonly Record<string, unknown>[];
    columns = [...new Set(objs.flatMap((r) => Object.keys(r)))];
    rows = objs.map((r) => columns.map((c) => r[c]));
  } else {
    const t = table as { columns: readonly string[]; rows: readonly (readonly unknown[])[] };
    columns = [...t.columns];
    rows = t.rows.map((r) => [...r]);
  }
  const head = columns.map((c) => `<th>${escapeHtml(c)}</th>`).join("");
  const body = rows
    .map((r) => `<tr>${r.map((v) => `<td class="${typeof v === "number" ? "num" : ""}">${cell(v)}</td>`).join("")}</tr>`)
    .join("\n");
  return `<table>${caption ? `<caption>${escapeHtml(caption)}</caption>` : ""}<thead><tr>${head}</tr></thead><tbody>\n${body}\n</tbody></table>`;
}

function paragraphs(text: string): string {
  return text
    .split(/\n\s*\n/)
    .map((p) => `<p>${escapeHtml(p.trim())}</p>`)
    .join("\n");
}

const CSS = `body{font:15px/1.55 system-ui,-apple-system,'Segoe UI',Roboto,Helvetica,Arial,sans-serif;color:#24292f;margin:0;background:#f6f8fa}
main{max-width:1040px;margin:0 auto;padding:24px 32px 48px;background:#fff;min-height:100vh;box-sizing:border-box}
h1{font-size:28px;margin:8px 0 16px}h2{font-size:21px;margin:36px 0 8px;border-bottom:1px solid #d0d7de;padding-bottom:4px}h3{font-size:17px;margin:24px 0 6px}
figure{margin:16px 0 24px}figcaption{color:#57606a;font-size:13px;margin-top:4px}
.lora-lab-plot{width:100%}.plot-error{color:#cf222e;font-family:monospace;white-space:pre-wrap}
table{border-collapse:collapse;margin:12px 0 24px;font-size:14px}caption{text-align:left;color:#57606a;font-size:13px;padding-bottom:4px}
th,td{border-bottom:1px solid #d0d7de;padding:5px 12px;text-align:left}th{background:#f6f8fa}td.num{text-align:right;font-variant-numeric:tabular-nums}
footer{color:#8c959f;font-size:12px;margin-top:40px}`;

// Draws every figure from its JSON; records the outcome on window for tests and shows errors in place.
const DRAW_ALL = `(function () {
  var state = window.__loraLabReport = { figures: 0, drawn: 0, errors: [] };
  var els = document.querySelectorAll(".lora-lab-plot[data-figure]");
  state.figures = els.length;
  Array.prototype.forEach.call(els, function (el) {
    var fig = JSON.parse(document.getElementById(el.getAttribute("data-figure")).textContent);
    window.Plotly.newPlot(el, fig.data, fig.layout, fig.config).then(function () { state.drawn++; el.setAttribute("data-drawn", "true"); },
      function (err) { state.errors.push(String(err)); el.innerHTML = '<p class="plot-error"></p>'; el.firstChild.textContent = "could not draw this figure: " + err; console.error(err); });
  });
})();`;

/** The report as one HTML page: headings, text, tables and figures, plotly.js included once. */
export function reportHtml(sections: readonly PlotReportSection[], opts: ReportOptions = {}): string {
  const title = opts.title ?? "lora-lab report";
  let n = 0;
  const parts = sections.map((s) => {
    if (typeof s === "string") return paragraphs(s);
    const fig = isFigure(s) ? { figure: s, caption: undefined } : "figure" in s ? s : undefined;
    if (fig) {
      const id = `figure-${++n}`;
      const height = typeof fig.figure.layout.height === "number" ? fig.figure.layout.height : 450;
      return (
        `<figure><div id="${id}" class="lora-lab-plot" data-figure="${id}-data" style="min-height:${height}px"></div>` +
        `<script type="application/json" id="${id}-data">${jsonForScript(figureJson(fig.figure))}</script>` +
        (fig.caption ? `<figcaption>${escapeHtml(fig.caption)}</figcaption>` : "") +
        `</figure>`
      );
    }
    if ("heading" in s) {
      const level = (s.level ?? 2) as number;
      return `<h${level}>${escapeHtml(s.heading)}</h${level}>`;
    }
    if ("table" in s) return tableHtml(s.table, s.caption);
    if ("text" in s) return paragraphs(s.text);
    if ("html" in s) return s.html;
    throw new Error(
      `reportHtml: section ${JSON.stringify(s).slice(0, 80)} is none of: a string, a figure, {heading}, {text}, {figure}, {table}, {html}`,
    );
  });
  const lib =
    n === 0
      ? ""
      : opts.plotlyJs === "cdn"
        ? `<script src="${escapeHtml(plotlyCdnUrl())}"></script>`
        : `<script>${plotlyJsSource()}</script>`;
  return `<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">
<title>${escapeHtml(title)}</title><style>${CSS}</style></head>
<body><main>
<h1>${escapeHtml(title)}</h1>
${parts.join("\n")}
<footer>Made with lora-lab. Plots: plotly.js; hover for values, drag to zoom, double-click to reset.</footer>
</main>
${lib}
${n > 0 ? `<script>${DRAW_ALL}</script>` : ""}
</body></html>
`;
}

/**
 * Writes the report to `path` atomically (a temp file in the same folder, then rename), creating
 * folders as needed, so a reader never sees half a page. Returns the path.
 */
export async function writeReport(path: string, sections: readonly PlotReportSection[], opts: ReportOptions = {}): Promise<string> {
  const html = reportHtml(sections, opts);
  const dir = dirname(path);
  await mkdir(dir, { recursive: true });
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await writeFile(temp, html, { flag: "wx" });
    await rename(temp, path);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw new Error(`writeReport: could not write ${path}: ${(err as Error).message}`, { cause: err });
  }
  return path;
}
