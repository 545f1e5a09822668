/** Layer plans: the article's tables as data, compiled to a LoraConfig, a freeze set and param groups. */
export { compilePlan, applyPlan, countLayers } from "./plan.js";
export type { LayerPlan, PlanLayerGroup, PlanRole, PlanParamGroup, CompiledPlan, AppliedPlan } from "./plan.js";
export { articlePlan, encoderDecoderPlan, ENCODER_DECODER_LAYOUTS } from "./presets.js";
export type { ArticlePlanOptions, EncoderDecoderPlanOptions, EncoderDecoderLayout } from "./presets.js";
export { planTable, formatPlanTable } from "./table.js";
export type { PlanTableRow } from "./table.js";
