export { train, evaluateLoss } from "./trainer.js";
export type { TrainableModel, TokenBatch, TrainEvent, StepEvent, EvalEvent, TrainOptions, TrainResult } from "./trainer.js";
