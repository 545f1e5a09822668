import { rmSync } from "node:fs";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import * as lab from "lora-lab";
import type { BrowserContext } from "playwright-core";
import { installFakeComms } from "./fake_comms.js";
import { launch, SCREENSHOTS, watchErrors, widgetStateDocument } from "./browser.js";
// @ts-ignore: plain ESM helper
import { buildPage } from "./page/build_page.mjs";

const W = await import("lora-lab/widgets");

function* endless(): Generator<lab.TokenBatch> {
  const inputIds = Int32Array.from({ length: 16 }, (_, i) => (i * 7) % 32);
  const targets = Int32Array.from({ length: 16 }, (_, i) => (i * 7 + 1) % 32);
  for (;;) yield { inputIds, targets, shape: [2, 8] };
}

describe("widgets rendered by html-manager from saved state (no kernel)", () => {
  let browser: { context: BrowserContext; close: () => Promise<void> };
  let pageDir: string;
  beforeAll(async () => {
    await lab.ready({ backend: "wasm" });
    pageDir = await buildPage();
    browser = await launch();
  });
  afterAll(async () => {
    await browser?.close();
    if (pageDir) rmSync(pageDir, { recursive: true, force: true });
  });

  it("every custom widget draws its plots and controls, and stock controls render, with no console errors", async () => {
    installFakeComms();
    lab.seed(0);
    const base = lab.gpt2(lab.GPT2Config.preset("tiny"));
    const configurator = new W.LoraConfigurator(base);
    const schedule = new W.ScheduleExplorer({ warmupSteps: 50, numTrainingSteps: 500 });
    const quant = new W.QuantExplorer();
    const peft = lab.getPeftModel(
      lab.gpt2(lab.GPT2Config.preset("tiny")),
      new lab.LoraConfig({ r: 4, loraAlpha: 8, targetModules: ["c_attn"] }),
    );
    for (const [name, p] of peft.namedParameters())
      if (name.includes("lora_B")) p.variable.assign(lab.tf.randomNormal(p.variable.shape, 0, 0.02, "float32", 1));
    const rank = new W.RankInspector(peft as any);
    const dash = new W.TrainingDashboard({ throttleMs: 0 });
    lab.seed(0);
    const small = lab.gpt2(new lab.GPT2Config({ vocabSize: 32, nPositions: 8, nEmbd: 8, nLayer: 1, nHead: 2 }));
    const batches = [...Array(2)].map(() => endless().next().value as lab.TokenBatch);
    await dash.train(small, { data: endless(), steps: 8, lr: 3e-3, evalEvery: 4, evalSets: { "new domain": batches, retained: batches } });
    const slider = new W.IntSlider({ value: 8, min: 1, max: 64, description: "rank" });
    const log = new W.FloatLogSlider({ value: 1e-3, min: -6, max: -1, description: "lr" });
    const drop = new W.Dropdown({ options: ["nf4", "fp4"], description: "quant" });
    const check = new W.Checkbox({ value: true, description: "double quant" });
    const text = new W.Text({ value: "hello", description: "name" });
    const progress = new W.IntProgress({ value: 40, max: 100, description: "progress" });
    const button = new W.Button({ description: "Run", buttonStyle: "primary" });
    const out = new W.Output();
    out.appendStdout("printed into an Output widget\n");
    const tab = new W.Tab([new W.VBox([slider, log, drop]), new W.HBox([check, text, progress, button]), out], {
      titles: ["sliders", "others", "output"],
    });
    const html = new W.HTML("<b>lora-lab</b> widgets");

    const doc = widgetStateDocument(W.allStates());
    const ids = [configurator, schedule, quant, rank, dash, html, tab].map((w) => w.modelId);
    const page = await browser.context.newPage();
    const errors = watchErrors(page);
    await page.goto(pathToFileURL(join(pageDir, "index.html")).href);
    await page.evaluate(([state, viewIds]) => (window as any).renderSaved("lora-lab-widgets.js", state, viewIds), [doc, ids] as const);
    const view = (id: string) => page.locator(`.view[data-model-id="${id}"]`);
    // Plotly draws an SVG per figure; the dashboard has four.
    for (const [w, plots] of [
      [configurator, 1],
      [schedule, 1],
      [quant, 1],
      [rank, 1],
      [dash, 4],
    ] as const) {
      await expect
        .poll(() => view(w.modelId).locator(".lora-lab-plot .main-svg").count(), { timeout: 20_000 })
        .toBeGreaterThanOrEqual(plots);
    }
    expect(await view(configurator.modelId).locator("input[type=range]").count()).toBe(2 * configurator.get<unknown[]>("groups").length);
    expect(await view(configurator.modelId).locator("[data-trait=trainable_params]").textContent()).toContain(
      configurator.get<number>("trainable_params").toLocaleString("en-US"),
    );
    expect(await view(schedule.modelId).locator("select[data-trait=schedule_type]").inputValue()).toBe("cosine");
    expect(await view(schedule.modelId).locator(".scatterlayer .trace").count()).toBe(1);
    expect(await view(dash.modelId).locator("[data-trait=status]").textContent()).toMatch(/^done · step 8/);
    expect(await view(dash.modelId).locator(".heatmaplayer, .hm image, image").count()).toBeGreaterThan(0);
    expect(await view(tab.modelId).locator(".widget-tab").count()).toBe(1);
    expect(await view(tab.modelId).locator(".lm-TabBar-tab, .p-TabBar-tab").allTextContents()).toEqual(["sliders", "others", "output"]);
    expect(await view(tab.modelId).locator(".widget-slider").count()).toBeGreaterThanOrEqual(2);
    expect(await view(tab.modelId).locator(".widget-readout").first().textContent()).toBe("8");
    expect(await view(html.modelId).locator("b").textContent()).toBe("lora-lab");
    // Only the selected tab shows; clicking another tab switches.
    expect(await view(tab.modelId).locator(".widget-checkbox").isVisible()).toBe(false);
    await page.screenshot({ path: join(SCREENSHOTS, "widgets-static.png"), fullPage: true });
    for (const [name, w] of [
      ["configurator", configurator],
      ["schedule", schedule],
      ["quant", quant],
      ["rank", rank],
      ["dashboard", dash],
      ["tab", tab],
    ] as const) {
      await view(w.modelId).screenshot({ path: join(SCREENSHOTS, `widget-${name}.png`) });
    }
    await view(tab.modelId).locator(".lm-TabBar-tab", { hasText: "others" }).click();
    await expect.poll(() => view(tab.modelId).locator(".widget-checkbox").isVisible()).toBe(true);
    await view(tab.modelId).screenshot({ path: join(SCREENSHOTS, "widget-tab-others.png") });
    expect(errors).toEqual([]);
    await page.close();
  });
});
