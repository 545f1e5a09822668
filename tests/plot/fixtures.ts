// Sample inputs shaped like what the trainer, inspect, forgetting and quant modules produce,
// deterministic (seeded) so spec tests and screenshots are stable.
import type {
  PlotCodebook,
  PlotForgettingCurve,
  PlotLayerPlanRow,
  PlotLearnForgetPoint,
  PlotMemoryBar,
  PlotQuantError,
  PlotRun,
  PlotSchedule,
  PlotSpectrum,
  PlotTrainEvent,
} from "../../src/plot/index.js";

export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function gaussian(r: () => number): () => number {
  return () => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());
}

/** HF get_cosine_schedule_with_warmup, written out from its formula. */
export const cosineWithWarmup = (w: number, total: number) => (s: number) =>
  s < w ? s / Math.max(1, w) : Math.max(0, 0.5 * (1 + Math.cos(Math.PI * ((s - w) / Math.max(1, total - w)))));
export const linearWithWarmup = (w: number, total: number) => (s: number) =>
  s < w ? s / Math.max(1, w) : Math.max(0, (total - s) / Math.max(1, total - w));

export const schedules: PlotSchedule[] = [
  { name: "cosine", lr: cosineWithWarmup(100, 1000), numTrainingSteps: 1000, warmupSteps: 100 },
  { name: "linear", lr: linearWithWarmup(100, 1000), numTrainingSteps: 1000, warmupSteps: 100 },
  { name: "constant", lr: Array.from({ length: 1001 }, () => 1) },
];

export const MODULES = [0, 1, 2, 3].flatMap((i) =>
  ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"].map((m) => `transformer.h.${i}.${m}`),
);

export function trainEvents(seed: number, steps: number, start: number, floor: number, evalEvery = 25): PlotTrainEvent[] {
  const r = rng(seed);
  const events: PlotTrainEvent[] = [];
  for (let step = 1; step <= steps; step++) {
    const loss = floor + (start - floor) * Math.exp(-step / 60) + 0.25 * (r() - 0.5);
    const gradNorms: Record<string, number> = {};
    MODULES.forEach((m, k) => {
      const layer = Math.floor(k / 4);
      gradNorms[m] = (0.02 + 0.3 * Math.exp(-step / 80)) * 10 ** (layer * 0.4) * (0.7 + 0.6 * r());
    });
    events.push({ type: "step", step, loss, lr: 1e-3 * cosineWithWarmup(20, steps)(step), gradNorm: 1, gradNorms });
    if (step % evalEvery === 0) {
      events.push({ type: "eval", step, losses: { "new domain (news)": loss + 0.1, "retained (fiction)": floor + 0.3 + step / 800 } });
    }
    if (step % 100 === 0) events.push({ type: "checkpoint", step, path: `out/checkpoint-${step}` } as PlotTrainEvent);
  }
  return events;
}

export const runs: PlotRun[] = [
  { name: "full fine-tuning", events: trainEvents(1, 200, 5.5, 2.2) },
  { name: "LoRA r=8", events: trainEvents(2, 200, 5.5, 2.5) },
];

export const forgettingCurves: PlotForgettingCurve[] = [
  ["full fine-tuning", 0.9, 2.1],
  ["LoRA r=8", 0.25, 2.4],
  ["LoRA r=8 + replay", 0.08, 2.45],
  ["freeze layers 0-1", 0.5, 2.3],
].map(([strategy, forget, target], i) => ({
  strategy: strategy as string,
  baselineLoss: 2.8,
  points: Array.from({ length: 9 }, (_, k) => ({
    step: k * 25,
    retainedLoss: 2.8 + (forget as number) * (1 - Math.exp(-k / 3)) + 0.01 * i,
    targetLoss: (target as number) + 1.6 * Math.exp(-k / 2.5),
  })),
}));

export const learnForgetPoints: PlotLearnForgetPoint[] = [
  { strategy: "full fine-tuning", gain: 1.55, forgetting: 0.86 },
  { strategy: "LoRA r=8", gain: 1.3, forgetting: 0.24 },
  { strategy: "freeze layers 0-1", gain: 1.45, forgetting: 0.47 },
  { strategy: "LoRA r=8 + replay", step: 50, gain: 0.7, forgetting: 0.02 },
  { strategy: "LoRA r=8 + replay", step: 100, gain: 1.05, forgetting: 0.05 },
  { strategy: "LoRA r=8 + replay", step: 200, gain: 1.22, forgetting: 0.07 },
];

export const spectra: PlotSpectrum[] = [0, 1, 2, 3].map((i) => ({
  layer: `transformer.h.${i}.attn.c_attn`,
  // A rank-8 update: 8 decaying singular values, then numerical noise.
  singularValues: Array.from({ length: 24 }, (_, k) => (k < 8 ? (0.5 + 0.2 * i) * Math.exp(-k / (2 + i)) : 1e-6 * (24 - k))),
  loraRank: 8,
}));

const d = 128;
const lin = (i: number, o: number) => i * o + o;
const SIZES: Record<string, number> = {
  "attn.c_attn": lin(d, 3 * d),
  "attn.c_proj": lin(d, d),
  "mlp.c_fc": lin(d, 4 * d),
  "mlp.c_proj": lin(4 * d, d),
};
const LORA_IN_OUT: Record<string, [number, number]> = {
  "attn.c_attn": [d, 3 * d],
  "attn.c_proj": [d, d],
  "mlp.c_fc": [d, 4 * d],
  "mlp.c_proj": [4 * d, d],
};

export const layerPlan: PlotLayerPlanRow[] = [
  { layer: "wte + wpe", role: "frozen", trainableParams: 0, totalParams: 256 * d + 64 * d },
  ...[0, 1, 2, 3].flatMap((layer) =>
    Object.keys(SIZES).map((module): PlotLayerPlanRow => {
      const total = SIZES[module];
      if (layer < 2) return { layer, module, role: "frozen", trainableParams: 0, totalParams: total };
      if (layer === 2) {
        if (!module.startsWith("attn")) return { layer, module, role: "frozen", trainableParams: 0, totalParams: total };
        const [i, o] = LORA_IN_OUT[module];
        return { layer, module, role: "lora", rank: 8, alpha: 16, trainableParams: 8 * (i + o), totalParams: total + 8 * (i + o) };
      }
      return { layer, module, role: "full", trainableParams: total, totalParams: total };
    }),
  ),
  { layer: "ln_f + lm_head (tied)", role: "frozen", trainableParams: 0, totalParams: 2 * d },
];

export const NF4: number[] = [
  -1, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0,
  0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
  0.7229568362236023, 1,
];
const E2M1 = [0, 0.5, 1, 1.5, 2, 3, 4, 6];
export const FP4: number[] = [...new Set([...E2M1.map((v) => -v / 6), ...E2M1.map((v) => v / 6)])].sort((a, b) => a - b);
export const INT4: number[] = Array.from({ length: 15 }, (_, k) => (k - 7) / 7);
export const codebooks: PlotCodebook[] = [
  { name: "NF4", codes: NF4 },
  { name: "FP4", codes: FP4 },
  { name: "int4", codes: INT4 },
];

export function normalizedWeights(n: number, blocksize = 64): number[] {
  const g = gaussian(rng(7));
  const out: number[] = [];
  for (let b = 0; b < n / blocksize; b++) {
    const block = Array.from({ length: blocksize }, g);
    const absmax = Math.max(...block.map(Math.abs));
    out.push(...block.map((v) => v / absmax));
  }
  return out;
}

export const quantErrors: PlotQuantError[] = [0, 1, 2, 3].flatMap((i) => [
  { layer: `h.${i}.attn.c_attn`, method: "NF4", error: 0.0061 + 0.0004 * i },
  { layer: `h.${i}.attn.c_attn`, method: "FP4", error: 0.0078 + 0.0005 * i },
  { layer: `h.${i}.attn.c_attn`, method: "int4", error: 0.0093 + 0.0003 * i },
]);

const MB = 1024 ** 2;
export const memoryBars: PlotMemoryBar[] = [
  {
    method: "full fine-tuning (fp32)",
    parts: { weights: 475 * MB, gradients: 475 * MB, "optimizer states": 950 * MB, activations: 1400 * MB },
  },
  {
    method: "LoRA r=8 (fp32 base)",
    parts: { weights: 475 * MB, "adapter weights": 1.1 * MB, gradients: 1.1 * MB, "optimizer states": 2.2 * MB, activations: 1100 * MB },
  },
  {
    method: "QLoRA r=8 (NF4 base)",
    parts: { weights: 68 * MB, "adapter weights": 1.1 * MB, gradients: 1.1 * MB, "optimizer states": 2.2 * MB, activations: 1100 * MB },
  },
];
