import { describe, expect, it } from "vitest";
import {
  forgettingFigure,
  gradNormHeatmap,
  layerPlanFigure,
  learnForgetFigure,
  lossFigure,
  memoryFigure,
  quantErrorFigure,
  rankSpectrumFigure,
  scheduleFigure,
  type PlotFigure,
  type PlotStepEvent,
} from "../../src/plot/index.js";
import { layerOf, shortNames } from "../../src/plot/gradnorm.js";
import { emaSmooth } from "../../src/plot/events.js";
import * as fx from "./fixtures.js";

// Traces as loose records: the tests read fields of several trace types.
type T = Record<string, any>;
const traces = (f: PlotFigure) => f.data as T[];
const layout = (f: PlotFigure) => f.layout as Record<string, any>;
const titleOf = (a: any) => a?.title?.text as string;
const byName = (f: PlotFigure, name: string) => traces(f).find((t) => t.name === name)!;

describe("scheduleFigure", () => {
  const f = scheduleFigure(fx.schedules);
  it("draws one line per schedule with the sampled values of each", () => {
    expect(traces(f).map((t) => t.name)).toEqual(["cosine (warmup 100)", "linear (warmup 100)", "constant"]);
    const cos = traces(f)[0];
    expect(cos.x).toHaveLength(1001);
    // HF cosine: halfway through decay the multiplier is 0.5; warmup is linear.
    expect(cos.y[550]).toBeCloseTo(0.5, 10);
    expect(cos.y[50]).toBeCloseTo(0.5, 10);
    expect(traces(f)[2].y.every((v: number) => v === 1)).toBe(true);
  });
  it("shades the warmup up to its last step and labels warmup and decay", () => {
    const rect = layout(f).shapes.find((s: any) => s.type === "rect");
    expect([rect.x0, rect.x1]).toEqual([0, 100]);
    expect(layout(f).annotations.map((a: any) => a.text)).toEqual(["warmup", "decay"]);
  });
  it("titles the axes: steps, and a multiplier when the peak is 1 or a learning rate otherwise", () => {
    expect(titleOf(layout(f).xaxis)).toBe("optimizer step");
    expect(titleOf(layout(f).yaxis)).toMatch(/multiplier/);
    const abs = scheduleFigure({ name: "lr", lr: [0, 1e-4, 2e-4], warmupSteps: 0 });
    expect(titleOf(layout(abs).yaxis)).toBe("learning rate");
    expect(traces(abs)[0].y).toEqual([0, 1e-4, 2e-4]);
  });
  it("rejects a function with no range and arrays of mismatched length", () => {
    expect(() => scheduleFigure({ name: "f", lr: () => 1 })).toThrow(/numTrainingSteps/);
    expect(() => scheduleFigure({ name: "a", lr: [1, 2], steps: [0] })).toThrow(/1 steps but 2 lr values/);
  });
});

describe("lossFigure", () => {
  it("takes train and eval losses from the events of each run, ignoring checkpoints", () => {
    const f = lossFigure(fx.runs);
    const steps = fx.runs[0].events.filter((e): e is PlotStepEvent => e.type === "step");
    const raw = byName(f, "full fine-tuning: train (raw)");
    expect(raw.x).toEqual(steps.map((e) => e.step));
    expect(raw.y).toEqual(steps.map((e) => e.loss));
    const ev = byName(f, "LoRA r=8: eval: retained (fiction)");
    const evals = fx.runs[1].events.filter((e: any) => e.type === "eval") as any[];
    expect(ev.x).toEqual(evals.map((e) => e.step));
    expect(ev.y).toEqual(evals.map((e) => e.losses["retained (fiction)"]));
    // 2 runs x (raw + smoothed + 2 eval sets)
    expect(traces(f)).toHaveLength(8);
    expect(titleOf(layout(f).yaxis)).toBe("cross-entropy loss (nats/token)");
    expect(titleOf(layout(f).xaxis)).toBe("optimizer step");
  });
  it("colours by run with several runs, and smooths with a debiased EMA", () => {
    const f = lossFigure(fx.runs);
    expect(byName(f, "full fine-tuning: train (EMA 0.6)").line.color).not.toBe(byName(f, "LoRA r=8: train (EMA 0.6)").line.color);
    // Debiased EMA of a constant is that constant from the first point.
    expect(emaSmooth([2, 2, 2], 0.9).map((v) => +v.toFixed(12))).toEqual([2, 2, 2]);
    // By hand: w=0.5, x=[1,3]: s1=0.5 -> 0.5/0.5=1; s2=0.25+1.5=1.75 -> 1.75/0.75
    expect(emaSmooth([1, 3], 0.5)[1]).toBeCloseTo(1.75 / 0.75, 12);
  });
  it("accepts a bare event stream and draws raw points only when short", () => {
    const f = lossFigure([
      { step: 1, loss: 3 },
      { step: 2, loss: 2.5 },
      { step: 2, losses: { val: 2.7 } },
    ]);
    expect(traces(f).map((t) => t.name)).toEqual(["train", "eval: val"]);
    expect(traces(f)[1].y).toEqual([2.7]);
    expect(() => lossFigure([{ type: "checkpoint", step: 1 }])).toThrow(/no step events/);
  });
});

describe("gradNormHeatmap", () => {
  const events = fx.runs[0].events;
  const steps = events.filter((e): e is PlotStepEvent => e.type === "step");
  it("has one row per module and one column per step, coloured by log10 of the norm", () => {
    const f = gradNormHeatmap(events);
    const h = traces(f)[0];
    expect(h.type).toBe("heatmap");
    expect(h.y).toEqual(shortNames(fx.MODULES));
    expect(h.y[0]).toBe("h.0.attn.c_attn");
    expect(h.x).toEqual(steps.map((e) => e.step));
    expect(h.z[5][7]).toBeCloseTo(Math.log10(steps[7].gradNorms![fx.MODULES[5]]), 12);
    expect(h.colorbar.title.text).toMatch(/gradient L2 norm/);
    expect(titleOf(layout(f).xaxis)).toBe("optimizer step");
  });
  it("groups modules into layers by the root sum of squares of their norms", () => {
    const f = gradNormHeatmap(events, { groupBy: "layer" });
    const h = traces(f)[0];
    expect(h.y).toEqual(["h.0", "h.1", "h.2", "h.3"]);
    const g = steps[3].gradNorms!;
    const mods = fx.MODULES.filter((m) => m.startsWith("transformer.h.2."));
    expect(10 ** h.z[2][3]).toBeCloseTo(Math.hypot(...mods.map((m) => g[m])), 10);
  });
  it("knows HF block names and draws update ratios on request", () => {
    expect(layerOf("transformer.h.11.mlp.c_fc")).toBe("transformer.h.11");
    expect(layerOf("encoder.block.2.layer.0.SelfAttention.q")).toBe("encoder.block.2");
    expect(layerOf("lm_head")).toBe("lm_head");
    const f = gradNormHeatmap([{ step: 1, loss: 1, updateRatios: { a: 1e-3, b: 1e-2 } }], { metric: "updateRatios" });
    expect(traces(f)[0].z).toEqual([[-3], [-2]]);
    expect(() => gradNormHeatmap([{ step: 1, loss: 1 }])).toThrow(/no step events with gradNorms/);
  });
});

describe("forgettingFigure and learnForgetFigure", () => {
  it("plots retained loss minus the baseline per strategy, and the new-domain loss in a second panel", () => {
    const f = forgettingFigure(fx.forgettingCurves);
    const c = fx.forgettingCurves[0];
    const t = traces(f).filter((t) => t.name === c.strategy);
    expect(t[0].y).toEqual(c.points.map((p) => p.retainedLoss - c.baselineLoss!));
    expect(t[1].yaxis).toBe("y2");
    expect(t[1].y).toEqual(c.points.map((p) => p.targetLoss));
    expect(titleOf(layout(f).yaxis)).toMatch(/\(nats\/token\)/);
    expect(titleOf(layout(f).yaxis2)).toBe("new-domain loss (nats/token)");
  });
  it("uses the first point as the baseline when none is given, or the raw loss on request", () => {
    const curve = {
      strategy: "s",
      points: [
        { step: 0, retainedLoss: 3 },
        { step: 10, retainedLoss: 3.4 },
      ],
    };
    expect(traces(forgettingFigure([curve]))[0].y[1]).toBeCloseTo(0.4, 12);
    expect(traces(forgettingFigure([curve], { metric: "retainedLoss" }))[0].y).toEqual([3, 3.4]);
    expect(traces(forgettingFigure([curve]))).toHaveLength(1);
  });
  it("places each strategy at (forgetting, gain), a path through checkpoints in step order", () => {
    const f = learnForgetFigure(fx.learnForgetPoints);
    expect(traces(f).map((t) => t.name)).toEqual(["full fine-tuning", "LoRA r=8", "freeze layers 0-1", "LoRA r=8 + replay"]);
    const path = byName(f, "LoRA r=8 + replay");
    expect(path.x).toEqual([0.02, 0.05, 0.07]);
    expect(path.y).toEqual([0.7, 1.05, 1.22]);
    expect(path.text).toEqual(["", "", "LoRA r=8 + replay, step 200"]);
    expect(titleOf(layout(f).xaxis)).toMatch(/forgetting.*nats\/token/);
    expect(titleOf(layout(f).yaxis)).toMatch(/gain.*nats\/token/);
  });
});

describe("rankSpectrumFigure", () => {
  it("draws each layer's sorted spectrum and its ranks, with the LoRA r marked", () => {
    const f = rankSpectrumFigure(fx.spectra);
    const first = traces(f)[0];
    expect(first.name).toBe("h.0.attn.c_attn");
    expect(first.y).toEqual([...fx.spectra[0].singularValues].sort((a, b) => b - a));
    expect(first.x[0]).toBe(1);
    // Ranks the figure computes itself (the fixture gives none), against the formulas written out here.
    const s2 = fx.spectra[2].singularValues;
    expect(byName(f, "stable rank").y[2]).toBeCloseTo(s2.reduce((a, v) => a + v * v, 0) / Math.max(...s2) ** 2, 12);
    const s3 = fx.spectra[3].singularValues;
    const p3 = s3.map((v) => v / s3.reduce((a, w) => a + w, 0));
    expect(byName(f, "effective rank").y[3]).toBeCloseTo(Math.exp(-p3.reduce((h, p) => h + (p > 0 ? p * Math.log(p) : 0), 0)), 12);
    expect(layout(f).yaxis.type).toBe("log");
    expect(layout(f).shapes.some((s: any) => s.x0 === 8)).toBe(true);
    expect(layout(f).annotations.map((a: any) => a.text)).toContain("LoRA r = 8");
  });
  it("keeps given ranks and normalizes on request", () => {
    const f = rankSpectrumFigure([{ layer: "a", singularValues: [4, 2], stableRank: 9 }], { normalize: true });
    expect(traces(f)[0].y).toEqual([1, 0.5]);
    expect(byName(f, "stable rank").y).toEqual([9]);
    expect(titleOf(layout(f).yaxis)).toBe("σᵢ / σ₁");
  });
});

describe("layerPlanFigure", () => {
  const f = layerPlanFigure(fx.layerPlan);
  const h = traces(f)[0];
  it("draws layers bottom to top and modules across, coded frozen 0 / LoRA 1 / full 2", () => {
    expect(h.y).toEqual(["wte + wpe", "layer 0", "layer 1", "layer 2", "layer 3", "ln_f + lm_head (tied)"]);
    expect(h.x).toEqual(["whole layer", "attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"]);
    expect(h.z[3]).toEqual([null, 1, 1, 0, 0]);
    expect(h.z[4]).toEqual([null, 2, 2, 2, 2]);
    expect(h.text[3][1]).toBe("LoRA r=8<br>4.1k");
    expect(h.colorbar.ticktext).toEqual(["frozen", "LoRA", "fully<br>trainable"]);
  });
  it("sums trainable parameters per layer and in the subtitle, against the plan's own counts", () => {
    const bars = traces(f)[1];
    // layer 2: LoRA r=8 on c_attn (128 -> 384) and c_proj (128 -> 128)
    expect(bars.x[3]).toBe(8 * (128 + 384) + 8 * (128 + 128));
    expect(bars.x[1]).toBeNull();
    const trainable = fx.layerPlan.reduce((s, r) => s + r.trainableParams, 0);
    expect(layout(f).title.text).toContain(`trainable params: ${trainable.toLocaleString("en-US")} of`);
    expect(titleOf(layout(f).xaxis2)).toMatch(/trainable parameters/);
  });
  it("says which role is unknown", () => {
    expect(() => layerPlanFigure([{ layer: 0, role: "half" as "lora", trainableParams: 1 }])).toThrow(/role "half" of layer 0/);
  });
});

describe("quantErrorFigure", () => {
  const weights = fx.normalizedWeights(1024);
  const f = quantErrorFigure({ codebooks: fx.codebooks, normalizedWeights: weights, normalStd: 0.4, errors: fx.quantErrors });
  it("draws the weight histogram, each code book's points and a normal density", () => {
    // 60 bars over [-1, 1]: each bar's density = (weights in it) / (n * width), counted here independently.
    const bars = byName(f, "weights ÷ block absmax");
    expect(bars.x).toHaveLength(60);
    const width = 2 / 60;
    bars.x.forEach((center: number, i: number) => {
      const lo = -1 + i * width,
        hi = lo + width;
      const inBin = weights.filter((w) => w >= lo && (w < hi || (i === 59 && w <= 1))).length;
      expect(bars.y[i]).toBeCloseTo(inBin / (weights.length * width), 9);
      expect(center).toBeCloseTo(lo + width / 2, 12);
    });
    expect(bars.y.reduce((s: number, y: number) => s + y * width, 0)).toBeCloseTo(1, 9);
    expect(byName(f, "NF4 code points (16)").x).toEqual(fx.NF4);
    expect(byName(f, "FP4 code points (15)").x).toEqual(fx.FP4);
    const pdf = byName(f, "N(0, 0.4²) density");
    expect(pdf.y[100]).toBeCloseTo(1 / (0.4 * Math.sqrt(2 * Math.PI)), 12);
    expect(titleOf(layout(f).xaxis)).toBe("weight ÷ block absmax");
  });
  it("groups the error bars by layer, one series per method, values from the input", () => {
    const nf4 = byName(f, "NF4 error");
    expect(nf4.x).toEqual(["h.0.attn.c_attn", "h.1.attn.c_attn", "h.2.attn.c_attn", "h.3.attn.c_attn"]);
    expect(nf4.y).toEqual(fx.quantErrors.filter((e) => e.method === "NF4").map((e) => e.error));
    expect(nf4.marker.color).toBe(byName(f, "NF4 code points (16)").marker.color);
    expect(titleOf(layout(f).yaxis3)).toBe("mean |w − dequant(w)|");
  });
});

describe("memoryFigure", () => {
  it("stacks parts per method in the unit of the largest total, and writes each total", () => {
    const f = memoryFigure(fx.memoryBars);
    expect(layout(f).barmode).toBe("stack");
    expect(titleOf(layout(f).yaxis)).toBe("memory (GiB)");
    const w = byName(f, "weights");
    expect(w.y).toEqual(fx.memoryBars.map((b) => b.parts.weights / 1024 ** 3));
    const totals = byName(f, "total");
    expect(totals.y[0]).toBeCloseTo((475 + 475 + 950 + 1400) / 1024, 12);
    expect(totals.text[0]).toBe("<b>3.22 GiB</b>");
    expect(totals.text[1]).toContain("adapter weights: 1.10 MiB");
    expect(byName(f, "adapter weights").y[0]).toBe(0);
  });
  it("picks MiB for small models", () => {
    expect(titleOf(layout(memoryFigure([{ method: "tiny", parts: { weights: 3 * 1024 ** 2 } }])).yaxis)).toBe("memory (MiB)");
  });
});
