import { existsSync, mkdirSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { chromium, type Browser, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { figureJson } from "../../src/plot/bundle.js";
import { labelBox, placeLabels, TEXT_POSITIONS, type LabelLayout } from "../../src/plot/fit.js";
import { plotlyJsSource } from "../../src/plot/plotlyjs.js";
import {
  learnForgetFigure,
  rankSpectrumFigure,
  type PlotFigure,
  type PlotLearnForgetPoint,
  type PlotSpectrum,
} from "../../src/plot/index.js";
import * as fx from "./fixtures.js";

// Draws the figures whose pieces Plotly places blindly (legends, slanted tick labels, point
// labels) in Chromium at two page widths and measures, from the SVG, that no piece of text covers
// another, a marker, or a plotting area it does not belong to. Screenshots for a look go with the
// other plots' under tests/artifacts/screenshots.
const CHROMIUM = process.env.LORA_LAB_CHROMIUM ?? "/usr/bin/chromium";
const SCREENSHOTS = join(fileURLToPath(new URL("../..", import.meta.url)), "tests/artifacts/screenshots");

/** A LoRA r=8 update's spectrum: r decaying values, then float32 noise. */
const loraSpectrum = (n: number, scale: number) =>
  Array.from({ length: n }, (_, k) => (k < 8 ? scale * Math.exp(-k / 3) : (3e-8 * scale * (n - k)) / n));

// A 12-layer GPT-2 with LoRA on c_attn (768 x 2304: 768 singular values), a LLaMA-style model with
// LoRA on q and v (24 updates), and the demo's two strategies with long names.
const gpt2: PlotSpectrum[] = Array.from({ length: 12 }, (_, i) => ({
  layer: `transformer.h.${i}.attn.c_attn`,
  singularValues: loraSpectrum(768, 0.2 + 0.05 * i),
  loraRank: 8,
}));
const llamaQV: PlotSpectrum[] = Array.from({ length: 12 }, (_, i) =>
  ["q_proj", "v_proj"].map((m) => ({
    layer: `model.layers.${i}.self_attn.${m}`,
    singularValues: loraSpectrum(64, 0.1 + 0.03 * i),
    loraRank: 8,
  })),
).flat();
const demo: PlotSpectrum[] = [
  { layer: "full, constant LR · h.3.attn.c_attn", singularValues: Array.from({ length: 128 }, (_, k) => Math.exp(-k / 30)) },
  { layer: "LoRA Q,V r8 · h.3.attn.c_attn", singularValues: loraSpectrum(128, 1), loraRank: 8 },
];
// A notebook study's final points: the adapter strategies sit within a few hundredths of each other.
const study: PlotLearnForgetPoint[] = (
  [
    ["full", 0.58, 0.42],
    ["lora", 0.05, 0.35],
    ["lora-all", 0.08, 0.38],
    ["article plan", 0.06, 0.36],
    ["freeze lower", 0.3, 0.4],
    ["replay", 0.03, 0.3],
    ["ewc", 0.04, 0.33],
  ] as const
).map(([strategy, forgetting, gain]) => ({ strategy, forgetting, gain }));
// The same study as paths through four evaluations each, labelled at their ends.
const paths: PlotLearnForgetPoint[] = ["full", "lora", "replay", "ewc"].flatMap((strategy, i) =>
  [1, 2, 3, 4].map((k) => ({
    strategy,
    step: 50 * k,
    forgetting: (0.02 + 0.15 * (3 - i) ** 1.2) * (k / 4),
    gain: (0.3 + 0.02 * i) * Math.sqrt(k / 4),
  })),
);

// Strategies that land on almost the same point: not every name can sit next to its marker.
const pile: PlotLearnForgetPoint[] = ["full", "lora", "lora-all", "article plan", "freeze lower", "replay", "ewc", "prefix"].map(
  (strategy, i) => ({ strategy, forgetting: 0.05 + 0.002 * (i % 3), gain: 0.35 + 0.002 * Math.floor(i / 3) }),
);

const FIGURES: Record<string, PlotFigure> = {
  "rank-gpt2-12": rankSpectrumFigure(gpt2),
  "rank-llama-qv": rankSpectrumFigure(llamaQV),
  "rank-demo": rankSpectrumFigure(demo, { normalize: true }),
  "rank-fixture": rankSpectrumFigure(fx.spectra),
  // The rank inspector widget's figure: one layer, its full name, a short given height.
  "rank-widget": rankSpectrumFigure([{ ...gpt2[3], layer: "transformer.h.3.attn.c_attn" }], { height: 320 }),
  "learn-forget-study": learnForgetFigure(study),
  "learn-forget-paths": learnForgetFigure(paths),
  "learn-forget-fixture": learnForgetFigure(fx.learnForgetPoints),
  "learn-forget-pile": learnForgetFigure(pile),
};
const WIDTHS = [720, 1000];

interface Piece {
  kind: string;
  text: string;
  /** The corners on the page, in order: a rotated tick label is a rotated rectangle, not its bounding box. */
  corners: [number, number][];
}

/** Every piece of the drawn figure that must keep clear of others. */
async function pieces(page: Page): Promise<Piece[]> {
  return page.evaluate(() => {
    const out: Piece[] = [];
    const add = (kind: string, selector: string, withText = true) => {
      for (const el of Array.from(document.querySelectorAll<SVGGraphicsElement>(`#plot ${selector}`))) {
        const text = (el.textContent ?? "").trim();
        if (withText && text === "") continue;
        const b = el.getBBox();
        const m = el.getScreenCTM();
        if (b.width === 0 || b.height === 0 || m === null) continue;
        const at = (x: number, y: number): [number, number] => [m.a * x + m.c * y + m.e, m.b * x + m.d * y + m.f];
        const { x, y, width: w, height: h } = b;
        out.push({ kind, text, corners: [at(x, y), at(x + w, y), at(x + w, y + h), at(x, y + h)] });
      }
    };
    add("plot area", ".bglayer rect", false);
    add("marker", ".scatterlayer .trace .points path", false);
    add("point label", ".scatterlayer .trace .textpoint text");
    add("legend", ".legend .bg", false);
    add("axis title", ".g-xtitle text, .g-x2title text, .g-ytitle text, .g-y2title text");
    for (const axis of ["xtick", "x2tick", "ytick", "y2tick"]) add(`${axis} label`, `.${axis} text`);
    add("annotation", ".annotation-text-g text");
    add("title", ".g-gtitle text");
    return out;
  });
}

/**
 * Whether two convex quadrilaterals overlap by more than a pixel (anti-aliasing and font rounding
 * aside): separating-axis test on both shapes' edge normals.
 */
function cover(a: Piece, b: Piece): boolean {
  for (const shape of [a.corners, b.corners])
    for (let i = 0; i < 4; i++) {
      const [x0, y0] = shape[i];
      const [x1, y1] = shape[(i + 1) % 4];
      const len = Math.hypot(x1 - x0, y1 - y0) || 1;
      const n = [(y0 - y1) / len, (x1 - x0) / len];
      const project = (c: [number, number][]) => c.map(([x, y]) => x * n[0] + y * n[1]);
      const pa = project(a.corners);
      const pb = project(b.corners);
      if (Math.min(Math.max(...pa), Math.max(...pb)) - Math.max(Math.min(...pa), Math.min(...pb)) <= 1) return false;
    }
  return true;
}

const TEXT = ["point label", "legend", "axis title", "xtick label", "x2tick label", "ytick label", "y2tick label", "annotation", "title"];

/** Pairs that must not overlap: any two texts, a text over a marker, the legend or a title over a plot. */
function collisions(all: Piece[]): string[] {
  const bad: string[] = [];
  const must = (a: Piece, b: Piece) => {
    if (TEXT.includes(a.kind) && TEXT.includes(b.kind)) return true;
    if (a.kind === "marker") return TEXT.includes(b.kind);
    if (a.kind === "plot area") return ["legend", "axis title", "title"].includes(b.kind) || b.kind.endsWith("tick label");
    return false;
  };
  for (let i = 0; i < all.length; i++)
    for (let j = 0; j < all.length; j++) {
      const [a, b] = [all[i], all[j]];
      if (i === j || (TEXT.includes(a.kind) && TEXT.includes(b.kind) && j < i)) continue;
      if (must(a, b) && cover(a, b)) bad.push(`${a.kind} "${a.text}" / ${b.kind} "${b.text}"`);
    }
  return bad;
}

describe("placeLabels", () => {
  const req = { x: 200, y: 200, markerSize: 10, text: "lora-all" };
  const frame = { x0: 0, y0: 0, x1: 400, y1: 400 };
  const at = (layout: Partial<LabelLayout>): LabelLayout => ({ labels: [req], markers: [], obstacles: [], frame, ...layout });
  it("takes the first free position, and none when every one is covered or outside the frame", () => {
    expect(placeLabels([at({})])).toEqual(["top right"]);
    expect(placeLabels([at({ obstacles: [labelBox(req, "top right")] })])).toEqual(["top left"]);
    // A frame ending at the marker leaves only the positions to its left.
    expect(placeLabels([at({ frame: { ...frame, x1: 201 } })])).toEqual(["top left"]);
    expect(placeLabels([at({ obstacles: TEXT_POSITIONS.map((p) => labelBox(req, p)) })])).toEqual([undefined]);
    // Free at one width but not at another is not free.
    const wide = at({ labels: [{ ...req, x: 300 }], obstacles: [labelBox({ ...req, x: 300 }, "top right")] });
    expect(placeLabels([at({}), wide])).toEqual(["top left"]);
  });
  it("a label placed earlier is an obstacle to the next, whose box then clears it", () => {
    const a = { ...req, text: "a" };
    const b = { ...req, x: 204, text: "bbbb" };
    const placed = placeLabels([at({ labels: [a, b] })]);
    expect(placed[0]).toBe("top right");
    expect(placed[1]).not.toBe("top right");
    const [boxA, boxB] = [labelBox(a, placed[0]!), labelBox(b, placed[1]!)];
    expect(Math.min(boxA.x1, boxB.x1) <= Math.max(boxA.x0, boxB.x0) || Math.min(boxA.y1, boxB.y1) <= Math.max(boxA.y0, boxB.y0)).toBe(true);
  });
  it("learnForgetFigure numbers a strategy whose name has no room, in its legend entry too", () => {
    const traces = learnForgetFigure(pile).data as { name: string; text: string[] }[];
    const numbered = traces.filter((t, i) => t.text[0] === String(i + 1));
    expect(numbered.length).toBeGreaterThan(0);
    traces.forEach((t, i) => {
      const s = pile[i].strategy;
      expect([s, String(i + 1), ""]).toContain(t.text[0]);
      expect(t.name).toBe(t.text[0] === String(i + 1) ? `${i + 1} ${s}` : s);
    });
  });
});

describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)("legend, tick and point labels clear of each other in Chromium", () => {
  let browser: Browser;
  let page: Page;
  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ["--no-sandbox", "--disable-gpu"] });
    page = await browser.newPage({ viewport: { width: 1100, height: 1000 } });
    await page.setContent(`<!DOCTYPE html><html><body style="margin:0"><div id="plot"></div></body></html>`);
    await page.addScriptTag({ content: plotlyJsSource() });
  });
  afterAll(async () => {
    await browser?.close();
  });

  for (const [name, figure] of Object.entries(FIGURES)) {
    it(`${name}: nothing covers anything else at ${WIDTHS.join(" and ")} px`, async () => {
      const found: string[] = [];
      let labels = 0;
      for (const width of WIDTHS) {
        await page.evaluate(
          async ([spec, width]) => {
            const el = document.getElementById("plot")!;
            el.style.width = `${width}px`;
            const P = (
              window as unknown as { Plotly: { purge(e: HTMLElement): void; newPlot(e: HTMLElement, ...a: unknown[]): Promise<void> } }
            ).Plotly;
            P.purge(el);
            await P.newPlot(el, spec.data, spec.layout, { ...spec.config, responsive: false });
          },
          [figureJson(figure), width] as const,
        );
        const all = await pieces(page);
        // The measurement sees the figure: its markers, and every label the builder asked for.
        expect(all.filter((p) => p.kind === "marker").length, "markers drawn").toBeGreaterThan(0);
        expect(all.filter((p) => p.kind === "legend")).toHaveLength(1);
        labels += all.filter((p) => p.kind === "point label").length;
        found.push(...collisions(all).map((c) => `${width}px: ${c}`));
        await page.locator("#plot").screenshot({ path: join(SCREENSHOTS, `overlap-${name}-${width}.png`) });
      }
      if (name.startsWith("learn-forget")) expect(labels, "point labels drawn").toBeGreaterThan(0);
      expect(found).toEqual([]);
    });
  }
});
