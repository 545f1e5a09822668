import type { Legend } from "plotly.js";
import { PLOT_FONT } from "./theme.js";

/**
 * Room for text, worked out before plotly.js draws: Plotly places legends, tick labels and point
 * labels without looking at each other, so a figure whose pieces must not overlap sizes them here
 * from the font and the strings. Estimates err on the wide side; a wider page only adds slack.
 */

/** The width a figure is laid out for when the page decides (notebook outputs are responsive):
 * a narrow notebook column, so wider pages only have more room than planned. */
export const NOMINAL_WIDTH = 640;

/** Average advance of one character in PLOT_FONT's sans-serif, in ems (wide side: digits and capitals). */
const EM_PER_CHAR = 0.6;
/** One line of text, in ems (Plotly's line height). */
const EM_PER_LINE = 1.3;

/** The drawn length of a label, HTML tags and entities counted as what they show. */
function visibleLength(text: string): number {
  return text.replace(/<[^>]*>/g, "").replace(/&[a-z]+;|&#\d+;/gi, "x").length;
}

export function textWidth(text: string, fontSize = PLOT_FONT.size): number {
  return visibleLength(text) * EM_PER_CHAR * fontSize;
}

export function lineHeight(fontSize = PLOT_FONT.size): number {
  return EM_PER_LINE * fontSize;
}

/**
 * Lines of at most `maxWidth` pixels, broken after a space or a dot (a module path breaks between
 * its parts; "full, constant LR · h.3.attn.c_attn" at the "·", which ends the line before it); a
 * part wider than that keeps a line of its own.
 */
export function wrapText(text: string, maxWidth: number, fontSize = PLOT_FONT.size): string[] {
  const lines: string[] = [];
  for (const part of text.split(/(?<=[ .])(?!·)/)) {
    const last = lines.length - 1;
    if (last >= 0 && textWidth((lines[last] + part).trim(), fontSize) <= maxWidth) lines[last] += part;
    else lines.push(part);
  }
  return lines.map((l) => l.trim());
}

/** The narrowest wrapping of `text` into at most `maxLines` lines. */
export function wrapInto(text: string, maxLines: number, fontSize = PLOT_FONT.size): string[] {
  let lo = 0;
  let hi = textWidth(text, fontSize);
  while (hi - lo > 1) {
    const mid = (lo + hi) / 2;
    if (wrapText(text, mid, fontSize).length <= maxLines) hi = mid;
    else lo = mid;
  }
  return wrapText(text, hi, fontSize);
}

/** Plotly's legend: the symbol column, the gap, and one row per line. */
const LEGEND_SYMBOL = 40;
const LEGEND_ROW = 20;

export interface LegendBelow {
  legend: Partial<Legend>;
  /** Pixels the legend takes at the bottom of the figure, to add to the bottom margin. */
  height: number;
}

/**
 * A horizontal legend pinned to the bottom of the figure (container coordinates), below the
 * axis titles and tick labels whatever their size, in columns of equal width. Its rows are
 * counted for `width`; the caller adds `height` to the bottom margin so nothing moves under it.
 */
export function legendBelow(names: readonly string[], width: number): LegendBelow {
  const text = Math.ceil(Math.max(0, ...names.map((n) => textWidth(n))));
  const entry = LEGEND_SYMBOL + text;
  const perRow = Math.max(1, Math.floor((width - 16) / entry));
  const rows = Math.ceil(names.length / perRow);
  return {
    legend: {
      orientation: "h",
      x: 0,
      xanchor: "left",
      yref: "container",
      y: 0,
      yanchor: "bottom",
      // Plotly's entrywidth is the text's; the symbol comes on top.
      entrywidth: text,
      entrywidthmode: "pixels",
      bgcolor: "rgba(255,255,255,0)",
    } as Partial<Legend>,
    height: rows * LEGEND_ROW + 12,
  };
}

/** An axis-aligned box in pixels, y growing downwards as on the page. */
export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

function overlapArea(a: Box, b: Box): number {
  const w = Math.min(a.x1, b.x1) - Math.max(a.x0, b.x0);
  const h = Math.min(a.y1, b.y1) - Math.max(a.y0, b.y0);
  return w > 0 && h > 0 ? w * h : 0;
}

/** Area of `a` that lies outside `frame`. */
function outsideArea(a: Box, frame: Box): number {
  return (a.x1 - a.x0) * (a.y1 - a.y0) - overlapArea(a, frame);
}

/** Plotly's scatter textposition values, best first: above the point reads as its caption. */
export const TEXT_POSITIONS = [
  "top right",
  "top left",
  "bottom right",
  "bottom left",
  "middle right",
  "middle left",
  "top center",
  "bottom center",
] as const;
export type TextPosition = (typeof TEXT_POSITIONS)[number];

export interface LabelRequest {
  /** The marker's centre in pixels. */
  x: number;
  y: number;
  /** The marker's diameter in pixels (Plotly's marker.size). */
  markerSize: number;
  text: string;
}

/**
 * Where Plotly draws a point's text for a textposition: it offsets the anchor by the marker's
 * radius / 0.8 + 1 (drawing.textPointPosition) and aligns the text's start, middle or end there.
 */
export function labelBox(req: LabelRequest, position: TextPosition, fontSize = PLOT_FONT.size, pad = 1): Box {
  const [v, h] = position.split(" ");
  const d = req.markerSize / 2 / 0.8 + 1;
  const w = textWidth(req.text, fontSize);
  const lh = lineHeight(fontSize);
  const x0 = h === "right" ? req.x + d : h === "left" ? req.x - d - w : req.x - w / 2;
  const y0 = v === "top" ? req.y - d - lh : v === "bottom" ? req.y + d : req.y - lh / 2;
  return { x0: x0 - pad, y0: y0 - pad, x1: x0 + w + pad, y1: y0 + lh + pad };
}

/** The same labels, markers and obstacles laid out in pixels for one figure width. */
export interface LabelLayout {
  labels: readonly LabelRequest[];
  markers: readonly Box[];
  obstacles: readonly Box[];
  /** The plotting area: labels stay inside it. */
  frame: Box;
}

/**
 * A textposition per label, or undefined where every position would cover another label, a
 * marker, an obstacle or leave the frame. Greedy and deterministic: labels with the most
 * neighbours choose first, each takes the free position earliest in TEXT_POSITIONS, and what it
 * takes becomes an obstacle for the rest. A position must be free in every layout given (the
 * figure at several page widths: a responsive plot spreads markers apart but not their labels).
 * Plotly has no collision avoidance of its own.
 */
export function placeLabels(layouts: readonly LabelLayout[], fontSize = PLOT_FONT.size): (TextPosition | undefined)[] {
  const first = layouts[0].labels;
  const near = 6 * lineHeight(fontSize);
  const crowding = first.map((a) => first.filter((b) => Math.hypot(a.x - b.x, a.y - b.y) < near).length);
  const order = first.map((_, i) => i).sort((a, b) => crowding[b] - crowding[a] || a - b);
  const taken: Box[][] = layouts.map((l) => [...l.obstacles, ...l.markers]);
  const out: (TextPosition | undefined)[] = first.map(() => undefined);
  for (const i of order) {
    const free = (p: TextPosition) =>
      layouts.every((l, k) => {
        const box = labelBox(l.labels[i], p, fontSize);
        return outsideArea(box, l.frame) === 0 && taken[k].every((t) => overlapArea(box, t) === 0);
      });
    const position = TEXT_POSITIONS.find(free);
    if (position === undefined) continue;
    out[i] = position;
    layouts.forEach((l, k) => taken[k].push(labelBox(l.labels[i], position, fontSize)));
  }
  return out;
}

/** A marker's box in pixels, its white outline included; labelBox keeps clear of it. */
export function markerBox(x: number, y: number, size: number): Box {
  const r = size / 2 + 0.5;
  return { x0: x - r, y0: y - r, x1: x + r, y1: y + r };
}
