/** forgetting: retention tracking on the trainer's eval events, and mitigations (replay, EWC, L2-SP). */
export { evaluateWithAdapterDisabled, measureBaseline, retentionRecord, trackRetention } from "./retention.js";
export type { AdapterSwitchable, RetentionOptions, RetentionRecord, RetentionTracker } from "./retention.js";
export { withReplay } from "./replay.js";
export type { ReplayOptions } from "./replay.js";
export { createEwc, fisherDiagonal } from "./ewc.js";
export type { EwcPenalty } from "./ewc.js";
export { createL2Sp } from "./l2sp.js";
export type { WeightPenalty } from "./penalty.js";
export { copyBase, runForgettingExperiment } from "./experiment.js";
export type { ExperimentEvent, ForgettingExperimentOptions, ForgettingExperimentResult, StrategyRun } from "./experiment.js";
export { summarizeRun, summaryTable } from "./experiment_summary.js";
export type { SummaryRow } from "./experiment_summary.js";
export { formatCount, formatTable } from "./text_table.js";
export { compareWithMargin, maxAbsDiff, seedVerdict, seedVerdictWord, verdict, verdictWord } from "./verdict.js";
export type { SeedVerdict, SeedVerdictWord, VerdictCheck, Verdict, VerdictWord } from "./verdict.js";
export { MIN_SEEDS, compareOverSeeds, seedCheck, seedSpread } from "./seeds.js";
export type { SeedCheck, SeedComparison, SeedOutcome, SeedQuantity, SeedRelation, SeedSpread } from "./seeds.js";
export { runOutcome } from "./run_outcome.js";
export type { RunCurves, RunOutcome, RunOutcomeKind, RunOutcomeOptions } from "./run_outcome.js";
export { forgettingStudy } from "./study.js";
export type { FinetuneOptions, ForgettingStudy, ForgettingStudyOptions, StudyModel } from "./study.js";
export { medianStepMs, studyCurves, studyRun, studyTable, studyTradeoff } from "./study_runs.js";
export type { StudyBaseline, StudyRun } from "./study_runs.js";
export {
  DOMAIN_GENRE,
  FICTION_GENRES,
  FORGETTING_DOMAINS,
  GENERAL_GENRES,
  PRESS_GENRES,
  documentWindows,
  domainBatches,
  evalBatches,
  forgettingData,
  generalSplit,
  spreadWindows,
  tokenUnit,
  userForgettingData,
} from "./experiment_data.js";
export type {
  DomainTrainData,
  ForgettingData,
  ForgettingDataOptions,
  ForgettingDomain,
  GeneralSplit,
  UserForgettingData,
  UserForgettingDataOptions,
} from "./experiment_data.js";
export { ADAPTER_STRATEGY_KEYS, STRATEGY_KEYS, strategies, strategiesFromKeys } from "./strategies.js";
export type {
  CausalLMBase,
  LoraStrategyOptions,
  Mitigations,
  PreparedStrategy,
  Strategy,
  StrategyKey,
  StrategyModel,
  StrategyOptions,
} from "./strategies.js";
