/**
 * Figures arrive as Plotly specs whose long number arrays came as binary buffers (DataView after
 * the manager's put_buffers, Float64 data): turn them back into arrays and draw with plotly.js.
 */
// plotly.js-dist-min is UMD that sets window.Plotly and never calls define, so it is safe inside an AMD bundle.
// @ts-ignore: no types shipped for the dist bundle
import PlotlyBundled from "plotly.js-dist-min";

export interface Figure {
  data: any[];
  layout: Record<string, any>;
  config?: Record<string, any>;
}

// nbconvert 6 HTML-escapes the saved widget state inside its <script> tag ("&lt;br&gt;"), and
// html-manager reads it verbatim: undo it in figure text, which Plotly reads as its own pseudo-HTML.
const ENTITIES: Record<string, string> = { "&lt;": "<", "&gt;": ">", "&quot;": '"', "&#39;": "'", "&#x27;": "'", "&amp;": "&" };
const unescapeHtml = (s: string) => s.replace(/&(lt|gt|quot|#39|#x27|amp);/g, (m) => ENTITIES[m]);

function unpack(value: any): any {
  if (typeof value === "string") return unescapeHtml(value);
  if (value instanceof DataView)
    return Array.from(new Float64Array(value.buffer.slice(value.byteOffset, value.byteOffset + value.byteLength)));
  if (ArrayBuffer.isView(value)) return Array.from(value as unknown as ArrayLike<number>);
  if (Array.isArray(value)) return value.map(unpack);
  if (value !== null && typeof value === "object") return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, unpack(v)]));
  return value;
}

/** Serializer for `figure*` traits: buffers back to number arrays. */
export const figureSerializer = {
  deserialize: (value: any): Figure | null => (value ? unpack(value) : null),
};

function plotly(): any {
  return (globalThis as any).Plotly ?? PlotlyBundled;
}

/** Draws (or redraws in place) a figure into `el`; an empty figure clears it. */
export function drawFigure(el: HTMLElement, figure: Figure | null): void {
  if (!figure) {
    el.textContent = "";
    return;
  }
  el.classList.add("lora-lab-plot");
  plotly().react(el, figure.data, { autosize: true, ...figure.layout }, { displaylogo: false, responsive: true, ...(figure.config ?? {}) });
}
