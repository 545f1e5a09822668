/** forgetting: retention tracking on the trainer's eval events, and mitigations (replay, EWC, L2-SP). */
export { evaluateWithAdapterDisabled, measureBaseline, retentionRecord, trackRetention } from "./retention.js";
export type { AdapterSwitchable, RetentionOptions, RetentionRecord, RetentionTracker } from "./retention.js";
export { withReplay } from "./replay.js";
export type { ReplayOptions } from "./replay.js";
export { createEwc, fisherDiagonal } from "./ewc.js";
export type { EwcPenalty } from "./ewc.js";
export { createL2Sp } from "./l2sp.js";
export type { WeightPenalty } from "./penalty.js";
