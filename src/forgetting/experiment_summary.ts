import type { RetentionRecord } from "./retention.js";
import { formatCount, formatTable } from "./text_table.js";

/** One strategy's outcome, read from its last retention record (the final evaluation). */
export interface SummaryRow {
  strategy: string;
  /** Step of the final evaluation. */
  step: number;
  trainableParams: number;
  /** Trainable share of all parameters, in percent. */
  trainablePercent: number;
  /** New-domain loss at the end, and its decrease from the base model's (what was learned). */
  domainLoss: number;
  domainGain: number;
  /** Final loss per retained set. */
  retained: Record<string, number>;
  /** Final loss minus the base model's, per retained set (what was forgotten). */
  forgetting: Record<string, number>;
  meanForgetting: number;
  /** Mean over retained sets of (base loss - final loss): minus the mean forgetting. */
  backwardTransfer: number;
  /** Mean forgetting with the adapter switched off (adapter strategies only): 0 when the base is untouched. */
  adapterOffForgetting?: number;
  seconds: number;
}

/** The summary row of a run (pure: every number comes from the run's records). */
export function summarizeRun(
  run: {
    strategy: string;
    history: RetentionRecord[];
    trainableParams: number;
    totalParams: number;
    seconds: number;
    adapterDisabledLosses?: Record<string, number>;
  },
  baseline: Record<string, number>,
  retained: string[],
): SummaryRow {
  const last = run.history[run.history.length - 1];
  if (!last) throw new Error(`summarizeRun: strategy "${run.strategy}" has no evaluation records`);
  const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const off = run.adapterDisabledLosses;
  return {
    strategy: run.strategy,
    step: last.step,
    trainableParams: run.trainableParams,
    trainablePercent: (100 * run.trainableParams) / run.totalParams,
    domainLoss: last.losses.domain,
    domainGain: baseline.domain - last.losses.domain,
    retained: Object.fromEntries(retained.map((n) => [n, last.losses[n]])),
    forgetting: { ...last.forgetting },
    meanForgetting: mean(retained.map((n) => last.forgetting[n])),
    backwardTransfer: last.backwardTransfer,
    ...(off ? { adapterOffForgetting: mean(retained.map((n) => off[n] - baseline[n])) } : {}),
    seconds: run.seconds,
  };
}

const fmt = (x: number, digits = 3) => (x >= 0 ? " " : "") + x.toFixed(digits);

/** The summary as an aligned plain-text table (the CLI prints it) and as rows for an HTML report. */
export function summaryTable(
  rows: readonly SummaryRow[],
  baseline: Record<string, number>,
): { columns: string[]; rows: string[][]; text: string } {
  const retained = Object.keys(rows[0]?.retained ?? {});
  const columns = [
    "strategy",
    "trainable",
    "domain loss",
    "gain",
    ...retained.map((n) => `${n} loss`),
    ...retained.map((n) => `forget ${n}`),
    "mean forget",
    "BWT",
    "adapter off",
    "time s",
  ];
  const body = rows.map((r) => [
    r.strategy,
    `${formatCount(r.trainableParams)} (${r.trainablePercent.toFixed(1)}%)`,
    r.domainLoss.toFixed(3),
    fmt(r.domainGain),
    ...retained.map((n) => r.retained[n].toFixed(3)),
    ...retained.map((n) => fmt(r.forgetting[n])),
    fmt(r.meanForgetting),
    fmt(r.backwardTransfer),
    r.adapterOffForgetting === undefined ? "-" : fmt(r.adapterOffForgetting),
    r.seconds.toFixed(1),
  ]);
  const baseRow = [
    "base model",
    "-",
    baseline.domain.toFixed(3),
    "-",
    ...retained.map((n) => baseline[n].toFixed(3)),
    ...retained.map(() => "-"),
    "-",
    "-",
    "-",
    "-",
  ];
  const text = formatTable(columns, [baseRow, ...body]);
  return { columns, rows: [baseRow, ...body], text };
}
