/** Prefix tuning: config, attention layer, injector. */
export { PrefixTuningConfig } from "./config.js";
export type { PrefixTuningConfigFields } from "./config.js";
export { PrefixAttention, PrefixGroupedAttention } from "./layer.js";
export type { AttentionWithPast, GroupedQueryAttention, PastKeyValueCache } from "./layer.js";
export { getPrefixTuningModel } from "./model.js";
