/** The module a parameter belongs to: its dotted name minus the last segment. */
export function moduleNameOf(paramName: string): string {
  const dot = paramName.lastIndexOf(".");
  return dot < 0 ? paramName : paramName.slice(0, dot);
}

/**
 * Per-module L2 norms from per-parameter squared norms (sqrt of the module's sum), in float64 so
 * that module norms combine exactly into the global one.
 */
export function moduleNorms(paramNames: string[], squares: ArrayLike<number>): Record<string, number> {
  const sums: Record<string, number> = {};
  paramNames.forEach((name, i) => {
    const module = moduleNameOf(name);
    sums[module] = (sums[module] ?? 0) + squares[i];
  });
  for (const m of Object.keys(sums)) sums[m] = Math.sqrt(sums[m]);
  return sums;
}

/** Global norm from per-parameter squared norms. */
export function globalNorm(squares: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < squares.length; i++) s += squares[i];
  return Math.sqrt(s);
}

/**
 * ||update|| / ||weights before|| per module. A module whose weights were all zero (a LoRA B
 * matrix at its first step) reports 1 when it moved: the update is all of its value.
 */
export function updateRatios(paramNames: string[], updateSquares: ArrayLike<number>, weightSquares: ArrayLike<number>): Record<string, number> {
  const updates = moduleNorms(paramNames, updateSquares);
  const weights = moduleNorms(paramNames, weightSquares);
  const out: Record<string, number> = {};
  for (const m of Object.keys(updates)) out[m] = weights[m] > 0 ? updates[m] / weights[m] : updates[m] > 0 ? 1 : 0;
  return out;
}
