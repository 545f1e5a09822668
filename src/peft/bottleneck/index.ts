/** Bottleneck adapters: config, layers, injector. */
export { BottleneckConfig, DEFAULT_BOTTLENECK_TARGETS } from "./config.js";
export type { BottleneckConfigFields } from "./config.js";
export { BottleneckAdapter, BottleneckLayer } from "./layer.js";
export { getBottleneckModel } from "./model.js";
