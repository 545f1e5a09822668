/**
 * plot: pure builders from plain data to Plotly figure specs, `show()` for notebooks (one output
 * with Plotly JSON, HTML and text, updatable in place) and a self-contained HTML report. Knows no
 * tensors; the one lora-lab module it imports is the leaf spectrum/ (pure functions on singular
 * values, shared with inspect/). Helpers (layerOf, shortNames, ...) stay unexported: the public
 * names must not collide with inspect/ or peft/ under `export *`.
 */
export type * from "./types.js";
export { scheduleFigure } from "./schedule.js";
export type { ScheduleFigureOptions } from "./schedule.js";
export { lossFigure } from "./loss.js";
export type { LossFigureOptions } from "./loss.js";
export { gradNormHeatmap } from "./gradnorm.js";
export type { GradNormHeatmapOptions, PlotNormMatrix } from "./gradnorm.js";
export { forgettingFigure, learnForgetFigure, retentionCurves } from "./forgetting.js";
export type { ForgettingFigureInput, ForgettingFigureOptions, LearnForgetFigureOptions, PlotRetentionRecord } from "./forgetting.js";
export { rankSpectrumFigure } from "./rank.js";
export type { RankSpectrumFigureOptions } from "./rank.js";
export { layerPlanFigure } from "./layer_plan.js";
export type { LayerPlanFigureOptions } from "./layer_plan.js";
export { quantErrorFigure } from "./quant.js";
export type { QuantErrorFigureOptions } from "./quant.js";
export { memoryFigure } from "./memory.js";
export type { MemoryFigureOptions } from "./memory.js";
export { PLOT_PALETTE, PLOT_ROLE_COLORS } from "./theme.js";
export { figureBundle, figureSummary, PLOTLY_MIME } from "./bundle.js";
export type { PlotMimeBundle, FigureBundleOptions } from "./bundle.js";
export type { PlotlyJsMode } from "./plotlyjs.js";
export { show, PLOT_DISPLAY_HOOK } from "./show.js";
export type { ShowOptions, PlotHandle, PlotDisplayHook, PlotDisplayContent, PlotTslabLike, ShownVia } from "./show.js";
export { reportHtml, writeReport } from "./report.js";
export type { PlotReportSection, PlotReportTable, ReportOptions } from "./report.js";
