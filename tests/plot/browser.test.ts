import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium, type BrowserContext, type Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { figureBundle, writeReport } from "../../src/plot/index.js";
import { allFigures } from "./figures.js";

// Renders the plots in Debian's Chromium (.ci/run installs it) and keeps screenshots as CI
// artifacts. Skipped only where no Chromium exists and this is not CI.
const CHROMIUM = process.env.LORA_LAB_CHROMIUM ?? "/usr/bin/chromium";
const root = fileURLToPath(new URL("../..", import.meta.url));
export const SCREENSHOTS = join(root, "tests/artifacts/screenshots");
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

describe.skipIf(!existsSync(CHROMIUM) && !process.env.CI)("plots in headless Chromium", () => {
  let context: BrowserContext;
  let profile: string;
  beforeAll(async () => {
    mkdirSync(SCREENSHOTS, { recursive: true });
    profile = mkdtempSync(join(tmpdir(), "lora-lab-chromium-"));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1100, height: 900 },
    });
  });
  afterAll(async () => {
    await context?.close();
    rmSync(profile, { recursive: true, force: true });
  });

  function watchErrors(page: Page): string[] {
    const errors: string[] = [];
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text());
    });
    page.on("pageerror", (e) => errors.push(String(e)));
    return errors;
  }

  it("writeReport's page draws every figure, with no console errors", async () => {
    const figures = allFigures();
    const names = Object.keys(figures);
    const path = await writeReport(
      join(root, "tests/artifacts/report.html"),
      [
        { heading: "Every lora-lab figure", level: 2 },
        "Sample data shaped like the trainer's events and the inspect, forgetting and quant results.",
        {
          table: [
            { strategy: "LoRA r=8", "trainable params": 6144, forgetting: 0.24 },
            { strategy: "full", "trainable params": 197632, forgetting: 0.86 },
          ],
          caption: "a table",
        },
        ...names.map((name) => ({ figure: figures[name], caption: name })),
      ],
      { title: "lora-lab plots" },
    );
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.goto(pathToFileURL(path).href);
    await page.waitForFunction(
      () => {
        const s = (window as unknown as { __loraLabReport?: { figures: number; drawn: number; errors: string[] } }).__loraLabReport;
        return s !== undefined && s.drawn + s.errors.length === s.figures;
      },
      undefined,
      { timeout: 60_000 },
    );
    const state = await page.evaluate(
      () => (window as unknown as { __loraLabReport: { figures: number; drawn: number; errors: string[] } }).__loraLabReport,
    );
    expect(state).toEqual({ figures: names.length, drawn: names.length, errors: [] });

    const plots = page.locator(".lora-lab-plot");
    for (let i = 0; i < names.length; i++) {
      const plot = plots.nth(i);
      // Drawn means an SVG, and marks in it: scatter/bar traces, or the heatmap's image.
      expect(await plot.locator(".main-svg").count(), names[i]).toBeGreaterThan(0);
      const marks = await plot.locator(".scatterlayer .trace path, .barlayer .trace path, .heatmaplayer image, .hm image").count();
      expect(marks, `${names[i]} has drawn marks`).toBeGreaterThan(0);
      await page
        .locator("figure")
        .nth(i)
        .screenshot({ path: join(SCREENSHOTS, `${String(i + 1).padStart(2, "0")}-${names[i]}.png`) });
    }
    await page.evaluate(() => window.scrollTo(0, 0));
    await page.screenshot({ path: join(SCREENSHOTS, "report-top.png") });
    await page.screenshot({ path: join(SCREENSHOTS, "report-page.png"), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });

  it("notebook outputs: the first carries plotly.js, later ones reuse it, and an update redraws", async () => {
    const figures = allFigures();
    const first = figureBundle(figures.loss, { plotlyJs: "inline", elementId: "out-1" })["text/html"];
    const second = figureBundle(figures.memory, { plotlyJs: "omit", elementId: "out-2" })["text/html"];
    const updated = figureBundle(figures.schedule, { plotlyJs: "omit", elementId: "out-2b" })["text/html"];
    const page = await context.newPage();
    const errors = watchErrors(page);
    await page.setContent(`<!DOCTYPE html><html><body><div id="cell-1"></div><div id="cell-2"></div></body></html>`);
    // As JupyterLab renders text/html: set innerHTML, then re-create each script so it runs, in order.
    const render = (target: string, html: string) =>
      page.evaluate(
        ([target, html]) => {
          const el = document.getElementById(target)!;
          el.innerHTML = html;
          for (const old of Array.from(el.querySelectorAll("script"))) {
            const s = document.createElement("script");
            s.textContent = old.textContent;
            old.replaceWith(s);
          }
        },
        [target, html] as const,
      );
    await render("cell-2", second); // an output that arrives before plotly.js waits for it
    await render("cell-1", first);
    await page.waitForFunction(() => document.querySelectorAll("#out-1 .main-svg, #out-2 .main-svg").length >= 2, undefined, {
      timeout: 30_000,
    });
    expect(await page.locator("#out-2 .barlayer .trace").count()).toBe(figures.memory.data.filter((t) => t.type === "bar").length);
    await render("cell-2", updated);
    await page.waitForFunction(() => document.querySelectorAll("#out-2b .main-svg").length > 0, undefined, { timeout: 10_000 });
    expect(await page.locator("#out-2b .scatterlayer .trace").count()).toBe(figures.schedule.data.length);
    expect(await page.locator("#cell-2 .lora-lab-plot-wait").count()).toBe(0);
    await page.screenshot({ path: join(SCREENSHOTS, "notebook-outputs.png"), fullPage: true });
    expect(errors).toEqual([]);
    await page.close();
  });
});
