import { existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { chromium } from "playwright-core";
import { describe, expect, it } from "vitest";
import { runDemo } from "../../src/cli/demo.js";
import { forgettingData } from "../../src/forgetting/index.js";
import { loadBase } from "../../src/models/index.js";
import { ByteTokenizer } from "../../src/tokenizers/index.js";
import { evaluateLoss, type EvalEvent } from "../../src/train/index.js";

const CHROMIUM = process.env.LORA_LAB_CHROMIUM ?? "/usr/bin/chromium";
const root = fileURLToPath(new URL("../..", import.meta.url));
const SCREENSHOTS = join(root, "tests/artifacts/screenshots");
const ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

/** The printed table's cells for a row starting with `label` (columns are separated by 2+ spaces). */
function tableRow(lines: string[], label: string): string[] {
  const line = lines.find((l) => l.startsWith(`${label}  `));
  if (!line) throw new Error(`no table row for "${label}" in:\n${lines.join("\n")}`);
  return [
    label,
    ...line
      .slice(label.length)
      .trim()
      .split(/\s{2,}/),
  ];
}

describe("runDemo", () => {
  it("fine-tunes the shipped base under each strategy, prints a table that matches its events and writes a report Chromium draws", async () => {
    const out: string[] = [];
    const dir = mkdtempSync(join(tmpdir(), "lora-lab-demo-"));
    const reportPath = join(dir, "report.html");
    const result = await runDemo({
      size: "tiny",
      strategies: ["naive", "lora"],
      steps: 4,
      batchSize: 4,
      lr: 3e-3,
      seed: 0,
      evalWindows: 16,
      evalEvery: 2,
      progress: false,
      log: (l) => out.push(...l.split("\n")),
      reportPath,
    });
    expect(result.backend).toBe("wasm");
    expect(result.runs.map((r) => r.strategy)).toEqual(["full, constant LR", "LoRA Q,V r8"]);

    // The base row: the shipped base's own losses on the same eval sets, measured here.
    const base = await loadBase("tiny");
    const data = forgettingData({
      tokenizer: new ByteTokenizer(),
      windowLength: base.config.nPositions,
      evalWindows: 16,
      evalBatchSize: 16,
    });
    const baseline = {
      domain: await evaluateLoss(base, data.domainEval),
      press: await evaluateLoss(base, data.retain.press),
      fiction: await evaluateLoss(base, data.retain.fiction),
    };
    base.dispose();
    const header = tableRow(out, "strategy");
    const col = (name: string) => header.indexOf(name);
    const baseRow = tableRow(out, "base model");
    for (const set of ["press", "fiction"] as const) expect(baseRow[col(`${set} loss`)]).toBe(baseline[set].toFixed(3));
    expect(baseRow[col("domain loss")]).toBe(baseline.domain.toFixed(3));

    // Each strategy's row: the numbers of its last eval event.
    for (const run of result.runs) {
      const last = run.events.filter((e): e is EvalEvent => e.type === "eval").at(-1)!;
      expect(last.step).toBe(4);
      const row = tableRow(out, run.strategy);
      expect(row[col("domain loss")]).toBe(last.losses.domain.toFixed(3));
      expect(Number(row[col("gain")])).toBeCloseTo(baseline.domain - last.losses.domain, 3);
      for (const set of ["press", "fiction"] as const) {
        expect(row[col(`${set} loss`)]).toBe(last.losses[set].toFixed(3));
        expect(Number(row[col(`forget ${set}`)])).toBeCloseTo(last.losses[set] - baseline[set], 3);
      }
      expect(row[col("trainable")]).toMatch(new RegExp(`^${run.trainableParams.toLocaleString("en-US")} `));
    }
    // Constant LR on every weight moves the retained loss; LoRA's base stays the base with the adapter off.
    expect(result.summary[1].adapterOffForgetting).toBeCloseTo(0, 5);
    expect(out.join("\n")).toContain(`report: ${reportPath}`);

    if (existsSync(CHROMIUM) || process.env.CI) {
      mkdirSync(SCREENSHOTS, { recursive: true });
      const browser = await chromium.launch({ executablePath: CHROMIUM, headless: true, args: ARGS });
      try {
        const page = await browser.newPage({ viewport: { width: 1100, height: 900 } });
        const errors: string[] = [];
        page.on("pageerror", (e) => errors.push(String(e)));
        page.on("console", (m) => {
          if (m.type() === "error") errors.push(m.text());
        });
        await page.goto(pathToFileURL(reportPath).href);
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
        // Forgetting curves, learning vs forgetting, rank spectra, one gradient-norm heatmap per strategy.
        expect(state).toEqual({ figures: 3 + result.runs.length, drawn: 3 + result.runs.length, errors: [] });
        const plots = page.locator(".lora-lab-plot");
        for (let i = 0; i < state.figures; i++) {
          expect(await plots.nth(i).locator(".main-svg").count()).toBeGreaterThan(0);
          expect(await plots.nth(i).locator(".scatterlayer .trace path, .heatmaplayer image, .hm image").count()).toBeGreaterThan(0);
        }
        await page.screenshot({ path: join(SCREENSHOTS, "demo-report.png"), fullPage: true });
        expect(errors).toEqual([]);
      } finally {
        await browser.close();
      }
    }
    rmSync(dir, { recursive: true, force: true });
  }, 300_000);

  it("names the available strategies when given an unknown one", async () => {
    await expect(
      runDemo({
        size: "tiny",
        strategies: ["naive", "adapters"],
        steps: 1,
        batchSize: 2,
        lr: 1e-3,
        seed: 0,
        evalWindows: 4,
        progress: false,
        log: () => {},
      }),
    ).rejects.toThrow(/unknown strategy "adapters"; available: naive, cosine/);
  });

  it("names the shipped checkpoints when asked for one that does not exist", async () => {
    await expect(
      runDemo({
        size: "huge",
        strategies: ["naive"],
        steps: 1,
        batchSize: 2,
        lr: 1e-3,
        seed: 0,
        evalWindows: 4,
        progress: false,
        log: () => {},
      }),
    ).rejects.toThrow(/no shipped checkpoint "huge".*available: .*tiny/);
  });
});
