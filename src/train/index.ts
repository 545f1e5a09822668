/**
 * train: the training loop (trainer.ts) over micro-steps (micro_step.ts), their statistics
 * (step_stats.ts), the NaN guard (nan_guard.ts), the divergence guard (divergence_guard.ts), evaluation
 * and checkpoints.
 */
export { train, HOST_SIGNAL } from "./trainer.js";
export { evaluateLoss, evaluateLossSync } from "./evaluate.js";
export { TrainingDivergedError } from "./nan_guard.js";
export type { DivergedQuantity } from "./nan_guard.js";
export { DIVERGENCE_DEFAULTS, LossDivergedError } from "./divergence_guard.js";
export { readTrainingCheckpoint, saveTrainingCheckpoint } from "./checkpoint.js";
export type { StoredTrainingCheckpoint, TrainingCheckpoint } from "./checkpoint.js";
export type {
  TrainableModel,
  TokenBatch,
  TrainEvent,
  StepEvent,
  StepStatistics,
  EvalEvent,
  CheckpointEvent,
  TrainOptions,
  TrainResult,
  DivergenceOptions,
} from "./types.js";
export { memoryPlan, planAlternatives, describePlan, backendMemoryLimit, MemoryPlanError, ACTIVATION_COEFFICIENTS } from "./memory_plan.js";
export type { MemoryPlan, MemoryPlanOptions, PlanAlternative, PlannedOptimizer } from "./memory_plan.js";
