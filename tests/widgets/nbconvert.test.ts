import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BrowserContext } from "playwright-core";
import { launch, ROOT, SCREENSHOTS, watchErrors } from "./browser.js";
import { PYTHON } from "./server.js";

// The notebook runs on the lora-lab kernel under nbconvert (nbclient saves the widget state), the
// HTML export loads require.js, html-manager's embed-amd.js and lora-lab-widgets from CDNs: the
// browser gets local copies of exactly those files (no network here).
const REQUIRE_URL = "https://cdnjs.cloudflare.com/ajax/libs/require.js/2.3.8/require.min.js";
const MATHJAX_URL = "https://cdn.mathjax.test/MathJax.js";
const FILES: [RegExp, string][] = [
  [/^https:\/\/cdnjs\.cloudflare\.com\/ajax\/libs\/require\.js\//, "node_modules/requirejs/require.js"],
  [
    /^https:\/\/(unpkg\.com|cdn\.jsdelivr\.net\/npm)\/@jupyter-widgets\/html-manager@[^/]*\/dist\/embed-amd\.js$/,
    "node_modules/@jupyter-widgets/html-manager/dist/embed-amd.js",
  ],
  [/^https:\/\/cdn\.jsdelivr\.net\/npm\/lora-lab-widgets@0\.1\.0\/dist\/index\.js$/, "widgets/dist/index.js"],
];

describe("nbconvert: a notebook using the widgets, executed and exported to HTML", () => {
  let browser: { context: BrowserContext; close: () => Promise<void> };
  let work: string;
  beforeAll(async () => {
    browser = await launch();
    work = mkdtempSync(join(tmpdir(), "lora-lab-nbconvert-"));
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(work, { recursive: true, force: true });
  });

  it("the exported HTML renders every widget from the saved state in Chromium", async () => {
    const install = spawnSync(process.execPath, [join(ROOT, "dist/cli/main.js"), "install", "--prefix", join(work, "prefix")], {
      encoding: "utf8",
    });
    expect(install.status, install.stderr).toBe(0);
    const run = spawnSync(
      PYTHON,
      [
        "-m",
        "nbconvert",
        "--to",
        "html",
        "--execute",
        "--ExecutePreprocessor.kernel_name=lora-lab",
        "--ExecutePreprocessor.timeout=300",
        `--HTMLExporter.require_js_url=${REQUIRE_URL}`,
        `--HTMLExporter.mathjax_url=${MATHJAX_URL}`,
        join(ROOT, "tests/widgets/fixtures/widgets.ipynb"),
        "--output-dir",
        work,
      ],
      {
        encoding: "utf8",
        env: { ...process.env, JUPYTER_PATH: join(work, "prefix", "share", "jupyter"), JUPYTER_RUNTIME_DIR: join(work, "runtime") },
        timeout: 280_000,
      },
    );
    expect(run.status, run.stderr).toBe(0);
    const html = readFileSync(join(work, "widgets.html"), "utf8");
    const state = JSON.parse(/<script type="application\/vnd.jupyter.widget-state\+json">([\s\S]*?)<\/script>/.exec(html)![1]);
    const models = Object.values<any>(state.state);
    for (const name of [
      "LoraConfiguratorModel",
      "ScheduleExplorerModel",
      "QuantExplorerModel",
      "TrainingDashboardModel",
      "RankInspectorModel",
      "IntSliderModel",
    ]) {
      expect(models.map((m) => m.model_name)).toContain(name);
    }
    // Figures travel as binary buffers, which nbclient keeps (base64) in the saved state.
    expect(models.find((m) => m.model_name === "ScheduleExplorerModel").buffers.length).toBeGreaterThan(0);

    const page = await browser.context.newPage();
    const errors = watchErrors(page);
    await page.route("**/*", async (route) => {
      const url = route.request().url();
      if (url === "https://nbconvert.test/widgets.html") return route.fulfill({ body: html, contentType: "text/html" });
      if (url.startsWith(MATHJAX_URL)) return route.fulfill({ body: "", contentType: "text/javascript" });
      const hit = FILES.find(([re]) => re.test(url));
      if (hit) return route.fulfill({ body: readFileSync(join(ROOT, hit[1])), contentType: "text/javascript" });
      return route.fulfill({ status: 404, body: "" });
    });
    await page.goto("https://nbconvert.test/widgets.html");
    await expect.poll(() => page.locator(".lora-lab-widget").count(), { timeout: 30_000 }).toBe(5);
    // Configurator 1, schedule 1, quant 1, dashboard 4 (loss, LR, gradient heatmap, forgetting), rank 1.
    await expect.poll(() => page.locator(".lora-lab-plot .main-svg").count(), { timeout: 30_000 }).toBeGreaterThanOrEqual(8);
    expect(await page.locator(".widget-slider").count()).toBe(1);
    // Figure titles are Plotly pseudo-HTML; none may show its tags as text.
    expect(await page.locator(".lora-lab-plot .main-svg text", { hasText: /<br>|<b>|<span/ }).count()).toBe(0);
    expect(await page.locator(".lora-lab-plot .gtitle").first().textContent()).toContain("Layer plan");
    // A cell ending in widget.display() prints nothing else (no dump of the widget object).
    expect(await page.locator(".jp-OutputArea-output pre", { hasText: "openedComm" }).count()).toBe(0);
    expect(await page.locator("[data-trait=status]").textContent()).toMatch(/^done · step 6 \/ 6/);
    await page.screenshot({ path: join(SCREENSHOTS, "nbconvert-widgets.png"), fullPage: true });
    // requirejs first tries a local "lora-lab-widgets" module (404 here, as on any static host) before the CDN.
    expect(errors.filter((e) => !/404|Failed to load resource/.test(e))).toEqual([]);
    await page.close();
  });
});
