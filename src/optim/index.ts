/** optim: transformers' LR schedules, AdamW with parameter groups, gradient clipping and accumulation. */
export { getScheduler, resolveWarmupSteps, SCHEDULER_NAMES } from "./schedules.js";
export type { LrSchedule, ScheduleOptions, SchedulerName, WsdCurve } from "./schedules.js";
export {
  resolveParamGroups,
  isNoDecayParameter,
  paramGroupsByLayer,
  DEFAULT_PARAM_GROUP,
  DEFAULT_NO_DECAY_PARAM_GROUP,
} from "./param_groups.js";
export type { ParamGroupSpec, OptimParameter, ResolvedParamGroup, ResolveParamGroupsOptions } from "./param_groups.js";
export { AdamW } from "./adamw.js";
export type { AdamWOptions, AdamWStepOptions } from "./adamw.js";
export { clipGradNorm, clipCoefficient, scaleGrads, squaredNorms, GradientAccumulator } from "./clip.js";
export type { GradMap } from "./clip.js";
export { PagedAdamW, PAGE_TEMP_BYTES_PER_ELEMENT } from "./paged_adamw.js";
export type { PagedAdamWOptions, PagingStats } from "./paged_adamw.js";
export { AdamW8bit, ADAMW_VARIANTS, createAdamW } from "./adamw8bit.js";
export type { AdamWVariant } from "./adamw8bit.js";
