/** Prefix tuning: config, attention layer, injector. */
export { PrefixTuningConfig } from "./config.js";
export type { PrefixTuningConfigFields } from "./config.js";
export { PrefixAttention } from "./layer.js";
export type { AttentionWithPast } from "./layer.js";
export { getPrefixTuningModel } from "./model.js";
