import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BrowserContext } from "playwright-core";
import { installFakeComms } from "./fake_comms.js";
import { launch, ROOT, SCREENSHOTS, watchErrors, widgetStateDocument } from "./browser.js";
// @ts-ignore: plain ESM helper
import { buildPage } from "./page/build_page.mjs";

const W = await import("lora-lab/widgets");
const LAB = join(ROOT, "widgets/labextension");

describe("the JupyterLab prebuilt extension (widgets/labextension)", () => {
  let browser: { context: BrowserContext; close: () => Promise<void> };
  let pageDir: string;
  let prefix: string;
  beforeAll(async () => {
    pageDir = await buildPage();
    browser = await launch();
    prefix = mkdtempSync(join(tmpdir(), "lora-lab-labext-"));
  });
  afterAll(async () => {
    await browser?.close();
    rmSync(prefix, { recursive: true, force: true });
    if (pageDir) rmSync(pageDir, { recursive: true, force: true });
  });

  it("installLabextension(prefix) copies it to share/jupyter/labextensions/lora-lab-widgets with its remote entry, and the AMD bundle to nbextensions", () => {
    const { path, nbextension, skipped } = W.installLabextension(prefix);
    expect(skipped).toBeUndefined();
    expect(nbextension).toBe(join(prefix, "share/jupyter/nbextensions/lora-lab-widgets/index.js"));
    expect(readFileSync(nbextension!, "utf8").startsWith('define(["@jupyter-widgets/base"]')).toBe(true);
    expect(path).toBe(join(prefix, "share/jupyter/labextensions/lora-lab-widgets"));
    const pkg = JSON.parse(readFileSync(join(path!, "package.json"), "utf8"));
    expect(pkg.name).toBe("lora-lab-widgets");
    expect(pkg.jupyterlab._build.extension).toBe("./extension");
    expect(existsSync(join(path!, pkg.jupyterlab._build.load))).toBe(true);
  });

  it("loaded as JupyterLab loads a federated extension (on the html-manager page, not in JupyterLab), its container shares the page's @jupyter-widgets/base, registers the module and renders a view", async () => {
    installFakeComms();
    const sched = new W.ScheduleExplorer({ warmupSteps: 20, numTrainingSteps: 200 });
    const doc = widgetStateDocument(W.allStates());
    const pkg = JSON.parse(readFileSync(join(LAB, "package.json"), "utf8"));
    const page = await browser.context.newPage();
    const errors = watchErrors(page);
    await page.goto(pathToFileURL(join(pageDir, "index.html")).href);
    const registered = await page.evaluate(
      async ([entry, state, id]) => {
        const w = window as any;
        await new Promise((resolve, reject) => {
          const s = document.createElement("script");
          s.src = entry;
          s.onload = resolve;
          s.onerror = reject;
          document.head.append(s);
        });
        // What JupyterLab does: init the container with the page's share scope, then get ./extension.
        const base = w.jupyterWidgetsBase;
        const container = w._JUPYTERLAB["lora-lab-widgets"];
        await container.init({
          "@jupyter-widgets/base": { "6.0.12": { get: () => Promise.resolve(() => base), loaded: 1, from: "page" } },
        });
        const plugin = (await container.get("./extension"))().default;
        const seen: any[] = [];
        plugin.activate({}, { registerWidget: (x: any) => seen.push(x) });
        const exports = seen[0].exports;
        // The extension's models must extend the page's base classes (one shared singleton).
        const sameBase = exports.ScheduleExplorerModel.prototype instanceof base.DOMWidgetModel;
        await w.renderSavedWith(exports, state, [id]);
        return { id: plugin.id, name: seen[0].name, version: seen[0].version, sameBase };
      },
      [pathToFileURL(join(LAB, pkg.jupyterlab._build.load)).href, doc, sched.modelId] as const,
    );
    expect(registered).toEqual({ id: "lora-lab-widgets:plugin", name: "lora-lab-widgets", version: "0.1.0", sameBase: true });
    await expect.poll(() => page.locator(".lora-lab-plot .main-svg").count(), { timeout: 20_000 }).toBeGreaterThan(0);
    expect(await page.locator(".lora-lab-plot .scatterlayer .trace").count()).toBe(1);
    expect(await page.locator("input[data-trait=warmup_steps]").inputValue()).toBe("20");
    await page
      .locator(".view")
      .first()
      .screenshot({ path: join(SCREENSHOTS, "labextension-schedule.png") });
    expect(errors).toEqual([]);
    await page.close();
  });
});
