import type { Layout, LayoutAxis } from "plotly.js";

/**
 * One look for every lora-lab figure: a white page, light grid, left-aligned titles and a
 * colour-blind-safe palette (Okabe & Ito), so charts from different cells read as one article.
 */
export const PLOT_PALETTE = ["#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000"] as const;

/** The article's three kinds of layer, the same colours wherever they appear. */
export const PLOT_ROLE_COLORS = { frozen: "#B8BEC6", lora: "#E69F00", full: "#0072B2" } as const;

export const PLOT_FONT = {
  family: "system-ui, -apple-system, 'Segoe UI', Roboto, Helvetica, Arial, sans-serif",
  size: 13,
  color: "#24292f",
};

const GRID = "#E6E8EB";

export function paletteColor(i: number): string {
  return PLOT_PALETTE[i % PLOT_PALETTE.length];
}

/** A colour with alpha, for bands and faint raw curves behind smoothed ones. */
export function withAlpha(hex: string, alpha: number): string {
  const n = parseInt(hex.slice(1), 16);
  return `rgba(${(n >> 16) & 255}, ${(n >> 8) & 255}, ${n & 255}, ${alpha})`;
}

export function axis(title: string, extra: Partial<LayoutAxis> = {}): Partial<LayoutAxis> {
  return {
    title: { text: title, standoff: 8 },
    gridcolor: GRID,
    zerolinecolor: "#C9CDD2",
    linecolor: "#C9CDD2",
    showline: true,
    ticks: "outside",
    tickcolor: "#C9CDD2",
    automargin: true,
    ...extra,
  };
}

export interface BaseLayoutOptions {
  title: string;
  subtitle?: string;
  height?: number;
  width?: number;
}

export function baseLayout(opts: BaseLayoutOptions, extra: Partial<Layout> = {}): Partial<Layout> {
  // The subtitle shares the title block: a second smaller line says what to look for.
  const text = opts.subtitle ? `${opts.title}<br><span style="font-size:12px;color:#57606a">${opts.subtitle}</span>` : opts.title;
  return {
    title: { text, x: 0.01, xanchor: "left", yref: "container", y: 1, yanchor: "top", pad: { t: 14 }, font: { size: 16 } },
    font: PLOT_FONT,
    paper_bgcolor: "#FFFFFF",
    plot_bgcolor: "#FFFFFF",
    colorway: [...PLOT_PALETTE],
    height: opts.height ?? 420,
    ...(opts.width !== undefined ? { width: opts.width } : {}),
    margin: { l: 64, r: 24, t: opts.subtitle ? 84 : 64, b: 56 },
    hovermode: "closest",
    legend: { orientation: "h", x: 0, xanchor: "left", y: -0.18, yanchor: "top", bgcolor: "rgba(255,255,255,0)" },
    hoverlabel: { font: { family: PLOT_FONT.family } },
    ...extra,
  };
}

/** 1536 -> "1.5 KiB": memory is counted in powers of two, as nvidia-smi and PyTorch report it. */
export function formatBytes(bytes: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let v = bytes;
  let u = 0;
  while (Math.abs(v) >= 1024 && u < units.length - 1) {
    v /= 1024;
    u++;
  }
  return `${u === 0 ? v.toFixed(0) : v.toFixed(v >= 100 ? 0 : v >= 10 ? 1 : 2)} ${units[u]}`;
}

/** The unit that keeps the largest value between 1 and 1024, and its divisor. */
export function byteUnit(maxBytes: number): { unit: string; divisor: number } {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let u = 0;
  while (maxBytes >= 1024 ** (u + 1) && u < units.length - 1) u++;
  return { unit: units[u], divisor: 1024 ** u };
}

/** 147456 -> "147,456"; 124587264 -> "125M" and 6144 -> "6.1k" when short. */
export function formatCount(n: number, short = false): string {
  if (!short || Math.abs(n) < 1_000) return Math.round(n).toLocaleString("en-US");
  const units: [number, string][] = [
    [1e9, "B"],
    [1e6, "M"],
    [1e3, "k"],
  ];
  for (const [d, s] of units) if (Math.abs(n) >= d) return `${(n / d).toFixed(n / d >= 100 ? 0 : 1)}${s}`;
  return String(n);
}

/** Numbers shown in hover labels and tables: 4 significant digits, no exponent for ordinary sizes. */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  if (x !== 0 && (Math.abs(x) < 1e-3 || Math.abs(x) >= 1e6)) return x.toExponential(2);
  if (Number.isInteger(x) || Math.abs(x) >= 1000) return x.toLocaleString("en-US", { maximumFractionDigits: 1 });
  return Number(x.toPrecision(4)).toString();
}
