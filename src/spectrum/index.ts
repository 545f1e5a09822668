/**
 * spectrum: stable and effective rank (and the Frobenius norm) of a matrix from its singular
 * values. A leaf: imports nothing, holds no tensors, so both inspect/ and plot/ may import it.
 */
export { effectiveRank, frobeniusNorm, stableRank } from "./rank.js";
