import { rmSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { BrowserContext, Page } from "playwright-core";
import { launch, SCREENSHOTS, watchErrors } from "./browser.js";
import { startServer, type JupyterServer } from "./server.js";
// @ts-ignore: plain ESM helper
import { buildPage } from "./page/build_page.mjs";

// A real kernel (lora-lab's tslab kernel) behind Debian's jupyter_server; the page is html-manager
// plus @jupyterlab/services in headless Chromium.
describe("widgets live: jupyter_server + lora-lab kernel + html-manager page in Chromium", () => {
  let browser: { context: BrowserContext; close: () => Promise<void> };
  let server: JupyterServer;
  let page: Page;
  let errors: string[];
  let pageDir: string;

  const run = async (code: string) => {
    const r = await page.evaluate((c) => (window as any).execute(c), code);
    if (r.status !== "ok") throw new Error(`cell failed: ${r.error}\n${code}\n${r.outputs.join("")}`);
    return r.outputs.join("\n").trim();
  };
  const view = (id: string) => page.locator(`.view[data-model-id="${id}"]`);

  beforeAll(async () => {
    pageDir = await buildPage();
    server = await startServer(pageDir);
    browser = await launch();
    page = await browser.context.newPage();
    errors = watchErrors(page);
    await page.goto(`${server.baseUrl}static/index.html`);
    await page.evaluate(([b, t]) => (window as any).connectKernel("lora-lab-widgets.js", b, t, "lora-lab"), [
      server.baseUrl,
      server.token,
    ] as const);
    await run(`import * as W from "lora-lab/widgets";\nimport * as lab from "lora-lab";`);
    await run(`await lab.ready({ backend: "wasm" });`);
  }, 180_000);

  afterAll(async () => {
    await page?.evaluate(() => (window as any).labKernel?.shutdown()).catch(() => undefined);
    await browser?.close();
    await server?.stop();
    if (pageDir) rmSync(pageDir, { recursive: true, force: true });
  });

  it("dragging the ScheduleExplorer's warmup slider changes the kernel's value and redraws the curve", async () => {
    const id = await run(
      `const sched = new W.ScheduleExplorer({ warmupSteps: 0, numTrainingSteps: 1000 }); sched.display(); console.log(sched.modelId);`,
    );
    const v = view(id.split("\n").pop()!);
    await expect.poll(() => v.locator(".main-svg").count(), { timeout: 20_000 }).toBeGreaterThan(0);
    const pathBefore = await v.locator(".scatterlayer .js-line").first().getAttribute("d");
    const slider = v.locator("input[data-trait=warmup_steps]");
    const box = (await slider.boundingBox())!;
    await page.mouse.move(box.x + 3, box.y + box.height / 2);
    await page.mouse.down();
    await page.mouse.move(box.x + box.width * 0.25, box.y + box.height / 2, { steps: 8 });
    await page.mouse.up();
    const dragged = Number(await slider.inputValue());
    expect(dragged).toBeGreaterThan(100);
    await expect.poll(async () => Number(await run(`console.log(sched.value.numWarmupSteps)`)), { timeout: 10_000 }).toBe(dragged);
    await expect.poll(() => v.locator(".scatterlayer .js-line").first().getAttribute("d"), { timeout: 10_000 }).not.toBe(pathBefore);
    await v.screenshot({ path: join(SCREENSHOTS, "e2e-schedule-dragged.png") });
  });

  it("a kernel-side change shows in the view: IntSlider.value and LoraConfigurator roles", async () => {
    const out = await run(`const rank = new W.IntSlider({ value: 4, min: 1, max: 64, description: "rank" }); rank.display();
lab.seed(0);
const base = lab.gpt2(lab.GPT2Config.preset("tiny"));
const conf = new W.LoraConfigurator(base); conf.display();
console.log(rank.modelId + " " + conf.modelId);`);
    const [rankId, confId] = out.split("\n").pop()!.split(" ");
    await expect.poll(() => view(rankId).locator(".widget-readout").textContent(), { timeout: 20_000 }).toBe("4");
    await run(`rank.value = 42;`);
    await expect.poll(() => view(rankId).locator(".widget-readout").textContent(), { timeout: 10_000 }).toBe("42");
    const count = view(confId).locator("[data-trait=trainable_params]");
    await expect.poll(() => count.textContent(), { timeout: 20_000 }).toContain("trainable params");
    const before = await count.textContent();
    await run(`conf.set({ roles: ["full", "lora", "lora"] });`);
    await expect.poll(() => view(confId).locator("select[data-trait='roles.0']").inputValue(), { timeout: 10_000 }).toBe("full");
    const expected = Number(await run(`console.log(conf.get("trainable_params"))`));
    await expect.poll(() => count.textContent(), { timeout: 10_000 }).toContain(expected.toLocaleString("en-US"));
    expect(await count.textContent()).not.toBe(before);
    // And the other way: the view's role select sets the kernel's plan.
    await view(confId).locator("select[data-trait='roles.1']").selectOption("frozen");
    await expect
      .poll(async () => run(`console.log(conf.value.groups.map((g) => g.role).join(","))`), { timeout: 10_000 })
      .toBe("full,frozen,lora");
    await view(confId).screenshot({ path: join(SCREENSHOTS, "e2e-configurator.png") });
  });

  it("QuantExplorer and RankInspector render from the kernel and follow the view's picks", async () => {
    const out = await run(`const quant = new W.QuantExplorer(); quant.display();
const peft = lab.getPeftModel(lab.gpt2(lab.GPT2Config.preset("tiny")), new lab.LoraConfig({ r: 4, loraAlpha: 8, targetModules: ["c_attn"] }));
for (const [n, p] of peft.namedParameters()) if (n.includes("lora_B")) p.variable.assign(lab.tf.randomNormal(p.variable.shape, 0, 0.02, "float32", 1));
const ranks = new W.RankInspector(peft); ranks.display();
console.log(quant.modelId + " " + ranks.modelId);`);
    const [qId, rId] = out.split("\n").pop()!.split(" ");
    await expect.poll(() => view(qId).locator(".main-svg").count(), { timeout: 20_000 }).toBeGreaterThan(0);
    await view(qId).locator("select[data-trait=quant_type]").selectOption("fp4");
    await expect.poll(() => view(qId).locator("[data-trait=summary]").textContent(), { timeout: 10_000 }).toMatch(/^FP4, blocksize 64/);
    expect(await run(`console.log(quant.value.quantType)`)).toBe("fp4");
    await expect.poll(() => view(rId).locator(".main-svg").count(), { timeout: 20_000 }).toBeGreaterThan(0);
    const layers = await view(rId).locator("select[data-trait=layer] option").allTextContents();
    await view(rId).locator("select[data-trait=layer]").selectOption(layers[3]);
    await expect
      .poll(() => view(rId).locator("[data-trait=summary]").textContent(), { timeout: 10_000 })
      .toMatch(new RegExp(`^${layers[3].replace(/[.[\]]/g, "\\$&")}:`));
    await view(qId).screenshot({ path: join(SCREENSHOTS, "e2e-quant.png") });
    await view(rId).screenshot({ path: join(SCREENSHOTS, "e2e-rank.png") });
  });

  it("pressing Stop on a running TrainingDashboard stops training within a step", async () => {
    const out = await run(`const dash = new W.TrainingDashboard({ throttleMs: 100 }); dash.display();
lab.seed(0);
const small = lab.gpt2(lab.GPT2Config.preset("tiny"));
const windows = Array.from({ length: 64 }, (_, i) => Array.from({ length: 33 }, (_, j) => (i * 31 + j * 7) % 250));
let result;
console.log(dash.modelId);`);
    const id = out.split("\n").pop()!;
    await page.evaluate(
      (c) => (window as any).executeBackground(c),
      `result = await dash.train(small, { data: windows, batchSize: 4, steps: 2000, lr: 1e-3 });`,
    );
    const status = view(id).locator("[data-trait=status]");
    await expect
      .poll(async () => Number(/step (\d+)/.exec((await status.textContent()) ?? "")?.[1] ?? 0), { timeout: 60_000 })
      .toBeGreaterThanOrEqual(3);
    await view(id).locator("button[data-action=pause]").click();
    await expect.poll(() => status.textContent(), { timeout: 10_000 }).toMatch(/^paused/);
    await view(id).locator("button[data-action=resume]").click();
    await expect.poll(() => status.textContent(), { timeout: 10_000 }).toMatch(/^running/);
    await view(id).locator("button[data-action=stop]").click();
    const done = await page.evaluate(() => (window as any).lastBackground);
    expect(done.status).toBe("ok");
    const r = JSON.parse(
      await run(`console.log(JSON.stringify({ steps: result.steps, aborted: result.aborted, at: dash.stopRequestedAt }))`),
    );
    expect(r.aborted).toBe(true);
    expect(r.steps).toBeLessThan(2000);
    // Stop lands between steps: the loop finishes the step that was running and runs no other.
    expect(r.steps - r.at).toBeLessThanOrEqual(1);
    await expect.poll(() => status.textContent(), { timeout: 10_000 }).toMatch(/^stopped/);
    await expect.poll(() => view(id).locator(".main-svg").count(), { timeout: 10_000 }).toBeGreaterThanOrEqual(3);
    await view(id).screenshot({ path: join(SCREENSHOTS, "e2e-dashboard-stopped.png") });
    await page.screenshot({ path: join(SCREENSHOTS, "e2e-page.png"), fullPage: true });
    expect(errors.filter((e) => !/favicon/.test(e))).toEqual([]);
  });
});
