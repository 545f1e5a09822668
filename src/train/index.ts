/** train: the training loop, its events and statistics, the NaN guard, checkpoints. */
export { train, HOST_SIGNAL } from "./trainer.js";
export { evaluateLoss, evaluateLossSync } from "./evaluate.js";
export { TrainingDivergedError } from "./errors.js";
export { saveTrainingCheckpoint } from "./checkpoint.js";
export type { TrainingCheckpoint } from "./checkpoint.js";
export type { TrainableModel, TokenBatch, TrainEvent, StepEvent, EvalEvent, CheckpointEvent, TrainOptions, TrainResult } from "./types.js";
