/** prune: magnitude pruning, to test the article's "fine-tune first, prune after". */
export { magnitudePrune, pruneTargets, sparsityOf } from "./magnitude.js";
export type { MagnitudePruneOptions, PruneResult, PrunedWeight, PruneTargets, SparsityReport } from "./magnitude.js";
