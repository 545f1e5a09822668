import { beforeAll, beforeEach, describe, expect, it } from "vitest";
import * as lab from "lora-lab";
import { put_buffers } from "@jupyter-widgets/base/lib/utils.js";
import { installFakeComms, type FakeCommManager } from "./fake_comms.js";

const W = await import("lora-lab/widgets");

let fake: FakeCommManager;
beforeAll(async () => {
  await lab.ready({ backend: "wasm" });
});
beforeEach(() => {
  fake = installFakeComms();
});

/** The widget's state as the front end holds it after comm_open and every update since. */
function frontendState(id: string): Record<string, any> {
  const state: Record<string, any> = {};
  for (const m of fake.messagesTo(id)) {
    const d = m.kind === "open" ? m.data : m.data.method === "update" || m.data.method === "echo_update" ? m.data : null;
    if (!d) continue;
    const s = structuredClone(d.state);
    put_buffers(s, d.buffer_paths ?? [], m.buffers);
    Object.assign(state, s);
  }
  return state;
}

const tiny = () => {
  lab.seed(0);
  return lab.gpt2(lab.GPT2Config.preset("tiny"));
};

describe("new LoraConfigurator(model)", () => {
  it("counts the trainable parameters that applying its plan to the model trains", () => {
    const w = new W.LoraConfigurator(tiny());
    const check = () => {
      const applied = lab.applyPlan(tiny(), w.value);
      const trainable = [...applied.model.namedParameters().values()].filter((p) => p.requiresGrad).reduce((s, p) => s + p.size, 0);
      expect(w.get("trainable_params")).toBe(trainable);
      expect(frontendState(w.modelId).trainable_params).toBe(trainable);
      // "all params" as PEFT counts them: every parameter of the planned model (LoRA matrices and an untied head copy included).
      const all = [...applied.model.namedParameters().values()].reduce((s, p) => s + p.size, 0);
      expect(w.get("total_params")).toBe(all);
    };
    check();
    // The view sets the first group to full fine-tuning, rank 4 on the second, and adds c_fc.
    const roles = [...w.get<string[]>("roles")];
    roles[0] = "full";
    fake.fromFrontend(w.modelId, { method: "update", state: { roles }, buffer_paths: [] });
    check();
    const ranks = [...w.get<number[]>("ranks")];
    ranks[1] = 4;
    fake.fromFrontend(w.modelId, { method: "update", state: { ranks, target_modules: ["c_attn", "c_fc"] }, buffer_paths: [] });
    check();
    expect(w.value.groups.map((g) => g.role)).toEqual(["full", "lora", "lora"]);
    expect(w.loraConfig?.targetModules).toBeDefined();
    // Trainable embeddings (the Embedding modules, not the final norm) and a frozen tied head (no copy).
    fake.fromFrontend(w.modelId, { method: "update", state: { embeddings: "full", head: "frozen" }, buffer_paths: [] });
    check();
  });

  it("counts without changing the model or drawing from the seeded generator", () => {
    const model = tiny();
    const before = [...model.namedParameters()].map(([name, p]) => [name, p.size, p.requiresGrad]);
    lab.seed(5);
    const w = new W.LoraConfigurator(model);
    fake.fromFrontend(w.modelId, {
      method: "update",
      state: { ranks: w.get<number[]>("ranks").map(() => 2), target_modules: [] },
      buffer_paths: [],
    });
    expect(w.get("trainable_params")).toBe(w.rows().find((r) => r.layer === "lm_head")!.trainableParams);
    const drawn = lab.nextSeed();
    lab.seed(5);
    expect(drawn).toBe(lab.nextSeed());
    expect([...model.namedParameters()].map(([name, p]) => [name, p.size, p.requiresGrad])).toEqual(before);
  });

  it("sends a layer-plan figure with one bar per plan row", () => {
    const w = new W.LoraConfigurator(tiny());
    const fig = frontendState(w.modelId).figure;
    expect(fig.data.length).toBeGreaterThan(0);
    expect(JSON.stringify(fig.layout)).toMatch(/lm_head|layer/i);
  });
});

describe("new QuantExplorer()", () => {
  it("reports the mean absolute error of blockwise absmax rounding to the nearest code point", () => {
    const weights = W.normalWeights(4096, 0.02, 7);
    const w = new W.QuantExplorer({ weights, quantType: "nf4", blocksize: 64 });
    const reference = (codes: Float32Array, blocksize: number) => {
      let err = 0;
      for (let b = 0; b < weights.length; b += blocksize) {
        const block = weights.subarray(b, b + blocksize);
        const absmax = Math.max(...Array.from(block, Math.abs));
        for (const v of block) {
          const x = v / absmax;
          let best = Infinity;
          for (const c of codes) best = Math.min(best, Math.abs(x - c));
          err += best * absmax;
        }
      }
      return err / weights.length;
    };
    expect(w.value.meanAbsError).toBeCloseTo(reference(lab.NF4_CODE, 64), 7);
    fake.fromFrontend(w.modelId, { method: "update", state: { quant_type: "int4", blocksize: 256 }, buffer_paths: [] });
    expect(w.value.meanAbsError).toBeCloseTo(reference(lab.INT4_CODE, 256), 7);
    expect(frontendState(w.modelId).summary).toMatch(/^INT4, blocksize 256/);
  });
});

describe("new ScheduleExplorer()", () => {
  it("a view's drag of warmup redraws the curve and .value spreads into train() options", () => {
    const w = new W.ScheduleExplorer({ scheduleType: "cosine", warmupSteps: 10, numTrainingSteps: 50, peakLr: 1e-3 });
    fake.fromFrontend(w.modelId, { method: "update", state: { warmup_steps: 20 }, buffer_paths: [] });
    const y = frontendState(w.modelId).figure.data[0].y as DataView;
    const values = new Float64Array(y.buffer.slice(y.byteOffset, y.byteOffset + y.byteLength));
    // HF cosine: step / W during warmup, then 0.5 (1 + cos(pi * progress)).
    expect(values[10]).toBeCloseTo(1e-3 * (10 / 20), 12);
    expect(values[35]).toBeCloseTo(1e-3 * 0.5 * (1 + Math.cos(Math.PI * (15 / 30))), 12);
    expect(w.value).toEqual({ scheduler: "cosine", lr: 1e-3, steps: 50, numWarmupSteps: 20, schedulerOptions: { numCycles: 0.5 } });
  });
});

describe("new RankInspector(model)", () => {
  it("lists the LoRA layers and picking one sends that layer's spectrum and ranks", () => {
    const base = tiny();
    const peft = lab.getPeftModel(base, new lab.LoraConfig({ r: 4, loraAlpha: 8, targetModules: ["c_attn"] }));
    // B starts at zero (no update yet): give it values, as training would.
    for (const [name, p] of peft.namedParameters())
      if (name.includes("lora_B")) p.variable.assign(lab.tf.randomNormal(p.variable.shape, 0, 0.02, "float32", 1));
    const w = new W.RankInspector(peft as any);
    const layers = w.get<string[]>("layers");
    expect(layers.length).toBe(4);
    fake.fromFrontend(w.modelId, { method: "update", state: { layer: layers[2] }, buffer_paths: [] });
    const s = frontendState(w.modelId);
    expect(s.summary.startsWith(layers[2])).toBe(true);
    const sv = w.value.singularValues;
    expect(Math.max(...sv)).toBeGreaterThan(0);
    const stable = sv.reduce((a, v) => a + v * v, 0) / Math.max(...sv) ** 2;
    expect(w.value.stableRank).toBeCloseTo(stable, 9);
  });
});

function* endless(): Generator<lab.TokenBatch> {
  const inputIds = Int32Array.from({ length: 16 }, (_, i) => (i * 7) % 32);
  const targets = Int32Array.from({ length: 16 }, (_, i) => (i * 7 + 1) % 32);
  for (;;) yield { inputIds, targets, shape: [2, 8] };
}
const small = () => {
  lab.seed(0);
  return lab.gpt2(
    new lab.GPT2Config({ vocabSize: 32, nPositions: 8, nEmbd: 8, nLayer: 1, nHead: 2, residPdrop: 0, embdPdrop: 0, attnPdrop: 0 }),
  );
};

describe("new TrainingDashboard()", () => {
  it("Stop from the view ends training after the step that was running", async () => {
    const d = new W.TrainingDashboard({ throttleMs: 0 });
    const result = await d.train(small(), {
      data: endless(),
      steps: 40,
      lr: 1e-3,
      onEvent: (e) => {
        if (e.type === "step" && e.step === 5) fake.fromFrontend(d.modelId, { method: "custom", content: { action: "stop" } });
      },
    });
    expect(result).toMatchObject({ steps: 5, aborted: true });
    expect(d.stopRequestedAt).toBe(5);
    expect(frontendState(d.modelId)).toMatchObject({ status: "stopped", step: 5 });
  });

  it("Pause holds the loop before the next step and Resume lets it finish", async () => {
    const d = new W.TrainingDashboard({ throttleMs: 0 });
    let stepAtPause = -1;
    const run = d.train(small(), {
      data: endless(),
      steps: 6,
      lr: 1e-3,
      onEvent: (e) => {
        if (e.type === "step" && e.step === 2) fake.fromFrontend(d.modelId, { method: "custom", content: { action: "pause" } });
      },
    });
    await new Promise((r) => setTimeout(r, 300));
    stepAtPause = d.get("step");
    expect(d.status).toBe("paused");
    fake.fromFrontend(d.modelId, { method: "custom", content: { action: "resume" } });
    const result = await run;
    expect(stepAtPause).toBe(2);
    expect(result).toMatchObject({ steps: 6, aborted: false });
    expect(frontendState(d.modelId).status).toBe("done");
  });

  it("throttles: a fast loop sends fewer figure updates than steps, and the last one has every step", async () => {
    const d = new W.TrainingDashboard({ throttleMs: 60_000 });
    await d.train(small(), { data: endless(), steps: 12, lr: 1e-3 });
    const figureUpdates = fake.messagesTo(d.modelId).filter((m) => m.data.method === "update" && "figure_loss" in m.data.state);
    expect(figureUpdates.length).toBeLessThanOrEqual(2);
    const loss = frontendState(d.modelId).figure_loss;
    expect(loss.data[0].x.byteLength / 8).toBe(12);
    const grad = frontendState(d.modelId).figure_grad;
    expect(grad.data[0].type).toBe("heatmap");
  });
});

describe("TRAITS", () => {
  it("each custom widget opens its comm with exactly its declared traits besides the model, view and layout keys", async () => {
    const peft = lab.getPeftModel(tiny(), new lab.LoraConfig({ r: 2, targetModules: ["c_attn"] }));
    const widgets = {
      ScheduleExplorer: new W.ScheduleExplorer(),
      QuantExplorer: new W.QuantExplorer({ weights: W.normalWeights(512, 0.02) }),
      RankInspector: new W.RankInspector(peft as any),
      LoraConfigurator: new W.LoraConfigurator(tiny()),
      TrainingDashboard: new W.TrainingDashboard(),
    };
    const common = [
      "_model_name",
      "_model_module",
      "_model_module_version",
      "_view_name",
      "_view_module",
      "_view_module_version",
      "_view_count",
      "_dom_classes",
      "layout",
      "tabbable",
      "tooltip",
    ];
    for (const [name, w] of Object.entries(widgets)) {
      const keys = Object.keys(fake.messagesTo(w.modelId).find((m) => m.kind === "open")!.data.state).sort();
      expect(keys, name).toEqual([...common, ...W.TRAITS[name as keyof typeof W.TRAITS]].sort());
    }
  });
});
