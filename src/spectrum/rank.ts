/**
 * How many directions a matrix really uses, read from its singular values (any order, any sign:
 * magnitudes count). Pure numbers in and out, so inspect/ (which computes spectra from weights)
 * and plot/ (which draws them) share one definition without plot seeing a tensor.
 */

/** ||M||_F^2 / ||M||_2^2 = sum s_i^2 / s_max^2: the energy's spread, robust to tiny s_i; 0 for a zero matrix. */
export function stableRank(singularValues: readonly number[]): number {
  let max = 0;
  for (const v of singularValues) max = Math.max(max, Math.abs(v));
  if (max === 0) return 0;
  return singularValues.reduce((acc, v) => acc + v * v, 0) / (max * max);
}

/** Roy & Vetterli (2007): exp(-sum p_i log p_i) with p_i = |s_i| / sum |s|; 0 for a zero matrix. */
export function effectiveRank(singularValues: readonly number[]): number {
  const total = singularValues.reduce((acc, v) => acc + Math.abs(v), 0);
  if (total === 0) return 0;
  let h = 0;
  for (const v of singularValues) {
    const p = Math.abs(v) / total;
    if (p > 0) h -= p * Math.log(p);
  }
  return Math.exp(h);
}

/** ||M||_F = sqrt(sum s_i^2). */
export function frobeniusNorm(singularValues: readonly number[]): number {
  return Math.sqrt(singularValues.reduce((acc, v) => acc + v * v, 0));
}
