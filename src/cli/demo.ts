import cliProgress from "cli-progress";
import { ready, type BackendChoice } from "../engine/index.js";
import {
  forgettingData,
  runForgettingExperiment,
  strategiesFromKeys,
  summaryTable,
  type ExperimentEvent,
  type ForgettingExperimentResult,
  type StrategyRun,
} from "../forgetting/index.js";
import { loadBase } from "../models/index.js";
import { ByteTokenizer } from "../tokenizers/index.js";
import { layerIndexOf } from "../nn/index.js";
import {
  forgettingFigure,
  gradNormHeatmap,
  learnForgetFigure,
  rankSpectrumFigure,
  writeReport,
  type PlotReportSection,
} from "../plot/index.js";

export const DEFAULT_DEMO_STRATEGIES = ["naive", "cosine", "freeze-lower", "lora", "article", "qlora"];

export interface DemoOptions {
  /** Shipped base checkpoint ("tiny"; "small" when it has been pretrained). */
  size: string;
  /** Strategy keys (see STRATEGY_KEYS). */
  strategies: string[];
  steps: number;
  batchSize: number;
  /** Peak learning rate of full fine-tuning and freeze-lower (the naive one holds it constant). */
  lr: number;
  /** Peak learning rate of the adapter strategies (default: `lr`). */
  adapterLr?: number;
  seed: number;
  /** Windows per eval set (domain, press, fiction) and how often they are evaluated. */
  evalWindows: number;
  evalEvery?: number;
  backend?: BackendChoice;
  log?: (line: string) => void;
  progress?: boolean;
  /** Where to write the HTML report; none when undefined. */
  reportPath?: string;
}

export interface DemoResult extends ForgettingExperimentResult {
  backend: string;
  /** The printed summary table. */
  table: string;
}

/** One progress bar per strategy, fed by the experiment's events. */
function progressBars(names: string[]): (e: ExperimentEvent) => void {
  const width = Math.max(...names.map((n) => n.length));
  let bar: cliProgress.SingleBar | undefined;
  let baseline: Record<string, number> = {};
  return (e) => {
    if (e.type === "strategy-start") {
      baseline = e.baseline;
      bar = new cliProgress.SingleBar(
        {
          format: `${e.strategy.padEnd(width)} |{bar}| {value}/{total} steps | loss {loss} | retained Δ {forget} | eta {eta_formatted}`,
          hideCursor: true,
          noTTYOutput: true,
          notTTYSchedule: 5000,
          barsize: 24,
        },
        cliProgress.Presets.shades_classic,
      );
      bar.start(e.steps, 0, { loss: "-", forget: "-" });
    } else if (e.type === "train" && e.event.type === "step") {
      bar?.update(e.event.step, { loss: e.event.loss.toFixed(3) });
    } else if (e.type === "train" && e.event.type === "eval") {
      const losses = e.event.losses;
      const retained = Object.keys(losses).filter((n) => n !== "domain");
      bar?.update({ forget: (retained.reduce((s, n) => s + losses[n] - baseline[n], 0) / retained.length).toFixed(3) });
    } else if (e.type === "strategy-end") {
      bar?.stop();
    }
  };
}

const shortModule = (name: string) => name.replace(/^base_model\.model\./, "").replace(/^transformer\./, "");

/** The report's figures, all from the experiment's own records. */
export function demoReportSections(
  result: ForgettingExperimentResult,
  table: { columns: string[]; rows: string[][] },
  intro: string,
): PlotReportSection[] {
  const retained = Object.keys(result.summary[0]?.retained ?? {});
  const meanBase = retained.reduce((s, n) => s + result.baseline[n], 0) / retained.length;
  const meanOf = (losses: Record<string, number>) => retained.reduce((s, n) => s + losses[n], 0) / retained.length;
  const curves = result.runs.map((run) => ({
    strategy: run.strategy,
    baselineLoss: meanBase,
    points: run.history.map((h) => ({ step: h.step, retainedLoss: meanOf(h.losses), targetLoss: h.losses.domain })),
  }));
  const points = result.runs.flatMap((run) =>
    run.history.map((h) => ({
      strategy: run.strategy,
      step: h.step,
      gain: result.baseline.domain - h.losses.domain,
      forgetting: meanOf(h.losses) - meanBase,
    })),
  );
  const sections: PlotReportSection[] = [
    { text: intro },
    {
      table: { columns: table.columns, rows: table.rows },
      caption:
        "Final evaluation per strategy (nats/byte). Forgetting: retained-set loss minus the base model's; BWT: backward transfer; adapter off: mean forgetting with the adapter switched off.",
    },
    { heading: "Forgetting as training goes", level: 2 },
    {
      figure: forgettingFigure(curves),
      caption: `Mean loss increase on the retained sets (${retained.join(", ")}) and the new domain's loss, at every evaluation.`,
    },
    {
      figure: learnForgetFigure(points),
      caption: "Each strategy's path from the base model (origin): learned (up) against forgotten (right).",
    },
  ];
  const spectra = rankSpectra(result.runs);
  if (spectra.length > 0) {
    sections.push({ heading: "Rank of the updates", level: 2 });
    sections.push({
      figure: rankSpectrumFigure(spectra, { normalize: true }),
      caption: "Singular values of the top block's c_attn update (W - W0 in place, scaling·B·A for LoRA), each divided by its largest.",
    });
  }
  sections.push({ heading: "Gradient norm per layer", level: 2 });
  for (const run of result.runs) {
    sections.push({
      figure: gradNormHeatmap(run.events, { groupBy: "layer", title: `Gradient norm per layer: ${run.strategy}`, height: 300 }),
      caption: `${run.description}; ${run.trainableParams.toLocaleString("en-US")} trainable parameters.`,
    });
  }
  return sections;
}

/** Each strategy's update of the top block's attention projection, where it changed. */
function rankSpectra(runs: StrategyRun[]) {
  const out: { layer: string; singularValues: number[]; stableRank: number; effectiveRank: number; loraRank?: number }[] = [];
  for (const run of runs) {
    const rows = (run.ranks ?? []).filter((r) => /\.attn\.c_attn(\.weight)?$/.test(r.module));
    const top = rows.sort((a, b) => layerNumber(b.module) - layerNumber(a.module))[0];
    if (top)
      out.push({
        layer: `${run.strategy} · ${shortModule(top.module).replace(/\.weight$/, "")}`,
        singularValues: top.singularValues,
        stableRank: top.stableRank,
        effectiveRank: top.effectiveRank,
        loraRank: top.rank,
      });
  }
  return out;
}

const layerNumber = (name: string) => layerIndexOf(name, "h") ?? -1;

/**
 * The forgetting demo: the shipped pretrained base learns Brown genre J ("learned") under each
 * strategy on identical data; retention is measured on held-out press and fiction documents.
 */
export async function runDemo(opts: DemoOptions): Promise<DemoResult> {
  const log = opts.log ?? ((line: string) => console.log(line));
  const strategies = strategiesFromKeys(opts.strategies, { lr: opts.lr, adapterLr: opts.adapterLr });
  const info = await ready(opts.backend ? { backend: opts.backend } : {});
  const base = await loadBase(opts.size);
  const T = base.config.nPositions;
  const data = forgettingData({
    tokenizer: new ByteTokenizer(),
    windowLength: T,
    evalWindows: opts.evalWindows,
    evalBatchSize: Math.min(16, opts.evalWindows),
  });
  log(
    `lora-lab demo: what fine-tuning forgets. Base: the shipped ${opts.size} GPT-2 (${base.config.nLayer} layers, d=${base.config.nEmbd}), pretrained on Brown's general genres.`,
  );
  log(
    `new domain: Brown J "learned" (${data.domainTrain.length} training windows of ${T} bytes); retained: held-out press and fiction documents; ${opts.steps} steps of ${opts.batchSize}, peak LR ${opts.lr} (adapters ${opts.adapterLr ?? opts.lr}), seed ${opts.seed}; backend ${info.backend}`,
  );
  const result = await runForgettingExperiment({
    base,
    domain: { train: data.domainTrain, eval: data.domainEval },
    retain: data.retain,
    general: data.general,
    strategies,
    steps: opts.steps,
    batchSize: opts.batchSize,
    seed: opts.seed,
    // A few points per curve: every evaluation costs as much as several training steps.
    evalEvery: opts.evalEvery ?? Math.max(10, Math.floor(opts.steps / 6)),
    onEvent: opts.progress === false ? undefined : progressBars(strategies.map((s) => s.name)),
  });
  base.dispose();
  const table = summaryTable(result.summary, result.baseline);
  log("");
  log(table.text);
  if (opts.reportPath) {
    const intro =
      `The shipped ${opts.size} GPT-2 base, fine-tuned for ${opts.steps} steps of ${opts.batchSize} windows on Brown genre J ("learned") under ${strategies.length} strategies, ` +
      `each from a fresh copy of the base on the same batches in the same order (seed ${opts.seed}); peak LR ${opts.lr} for full fine-tuning and freeze-lower, ${opts.adapterLr ?? opts.lr} for the adapter strategies; constant for the naive one, 10% warmup then cosine for the rest. ` +
      `Retained sets: held-out press (A-C) and fiction (K-P) documents, never seen in pretraining. Command: lora-lab demo --size ${opts.size} --steps ${opts.steps} --lr ${opts.lr} --adapter-lr ${opts.adapterLr ?? opts.lr} --seed ${opts.seed} --strategies ${opts.strategies.join(",")}.`;
    await writeReport(opts.reportPath, demoReportSections(result, table, intro), { title: "lora-lab: what fine-tuning forgets" });
    log(`report: ${opts.reportPath}`);
  }
  return { ...result, backend: info.backend, table: table.text };
}
