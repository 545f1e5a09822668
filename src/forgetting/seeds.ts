import type { RunOutcome } from "./run_outcome.js";

/**
 * Checks of a claim measured over several seeds. One seed's run says what that seed did; another
 * seed may tip a check that sits near its margin. So each quantity is measured once per seed, and
 * a check compares the two quantities seed by seed:
 *
 * - Paired by seed. The two runs of one seed share their random draws (the batch order, the
 *   adapter's initial weights, any seeded data draw), so whatever a seed does to both cancels in
 *   their difference. The spread that decides a check is therefore that of the per-seed
 *   differences d_i = a_i - b_i, not that of a or b: an unpaired spread would count the seeds'
 *   common swing as noise and call real differences inconclusive.
 * - Two standard deviations, literally (issue #19: "the difference exceeds 2 standard deviations
 *   of the seed spread"): the sample standard deviation of the d_i (n - 1 in the denominator), not
 *   the standard error sd / sqrt(n). This is a rule on the size of the effect against the
 *   seed-to-seed scatter, not a significance test: at 3 seeds it asks for mean / (sd / sqrt(3)) >
 *   3.46, between the one-sided (2.92) and two-sided (4.30) 95% points of Student's t with 2
 *   degrees of freedom. From 4 seeds on it is stricter than both (at 4: 4.00 against 3.18
 *   two-sided), as the bar, 2 sqrt(n) standard errors, grows with n: more seeds make the spread
 *   better known, not the bar lower.
 * - A floor: with sd near 0 (a quantity every seed measures alike, such as a parameter count) any
 *   difference would exceed 2 sd, so a check also needs |mean| above `margin`, the tie band of
 *   single-seed comparisons (compareWithMargin).
 */

/** The mean and sample standard deviation of one quantity over seeds. */
export interface SeedSpread {
  n: number;
  mean: number;
  /** Sample standard deviation (n - 1 in the denominator). */
  sd: number;
}

export type SeedRelation = "above" | "below";

/** What the seeds say of one prediction: it holds, it fails, or the spread cannot tell. */
export type SeedOutcome = "holds" | "fails" | "inconclusive";

/** The fewest seeds a check over seeds accepts: with 2, the spread of the differences rests on one degree of freedom. */
export const MIN_SEEDS = 3;

/** Mean and sample standard deviation of `values` (at least MIN_SEEDS finite numbers; `what` names them in errors). */
export function seedSpread(values: readonly number[], what = "values"): SeedSpread {
  const n = values.length;
  if (n < MIN_SEEDS)
    throw new Error(
      `seedSpread: ${what} has ${n} seed${n === 1 ? "" : "s"}; a spread over seeds needs at least ${MIN_SEEDS} ` +
        `(with fewer the standard deviation rests on ${Math.max(0, n - 1)} degree${n === 2 ? "" : "s"} of freedom)`,
    );
  values.forEach((v, i) => {
    if (!Number.isFinite(v)) throw new Error(`seedSpread: ${what}[${i}] is ${v}; every seed's measurement must be a finite number`);
  });
  const mean = values.reduce((s, v) => s + v, 0) / n;
  // Two passes (deviations from the mean): a one-pass sum of squares loses digits when the mean is large.
  const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  return { n, mean, sd };
}

/** A seed comparison of `a` against `b`: the spreads, the difference, the outcome and why. */
export interface SeedComparison {
  relation: SeedRelation;
  a: SeedSpread;
  /** A constant `b` (a threshold such as 0) has sd 0. */
  b: SeedSpread;
  /** The per-seed differences a_i - b_i. */
  differences: number[];
  difference: SeedSpread;
  margin: number;
  outcome: SeedOutcome;
  /** The outcome in words, with the mean difference, 2 sd and the seed count. */
  reason: string;
}

const signed = (x: number, digits: number) => (x > 0 ? "+" : "") + x.toFixed(digits);

/**
 * Compares `a` with `b` seed by seed (`a[i]` and `b[i]` from the same seed; `b` may be one number
 * for every seed): the prediction is that `a` is `relation` `b`. It holds when the mean difference
 * lies in the predicted direction by more than 2 sd of the differences and more than `margin`;
 * fails when it lies the other way by as much; else it is inconclusive, and `reason` says which
 * bar it missed.
 */
export function compareOverSeeds(
  a: readonly number[],
  relation: SeedRelation,
  b: readonly number[] | number,
  opts: { margin?: number; digits?: number } = {},
): SeedComparison {
  const { margin = 0, digits = 3 } = opts;
  if (relation !== "above" && relation !== "below")
    throw new Error(`compareOverSeeds: relation must be "above" or "below"; got ${JSON.stringify(relation)}`);
  if (!(margin >= 0)) throw new Error(`compareOverSeeds: margin must be a number >= 0; got ${margin}`);
  const bs = typeof b === "number" ? a.map(() => b) : b;
  if (bs.length !== a.length)
    throw new Error(
      `compareOverSeeds: a has ${a.length} seeds and b has ${bs.length}; paired by seed, they need one value per seed each, in the same seed order`,
    );
  const spreadA = seedSpread(a, "a");
  const spreadB = typeof b === "number" ? { n: a.length, mean: b, sd: 0 } : seedSpread(bs, "b");
  const differences = a.map((x, i) => x - bs[i]);
  const difference = seedSpread(differences, "a - b");
  const { mean, sd, n } = difference;
  const bar = Math.max(2 * sd, margin);
  const toward = relation === "above" ? mean : -mean; // > 0: the predicted direction
  const outcome: SeedOutcome = toward > bar ? "holds" : toward < -bar ? "fails" : "inconclusive";
  const m = signed(mean, digits);
  const twoSd = `2 sd = ${(2 * sd).toFixed(digits)}`;
  const marginText = `the margin ${margin.toFixed(digits)}`;
  const reason =
    outcome === "holds"
      ? `mean difference ${m} exceeds ${twoSd} of the ${n} seeds${margin > 0 ? ` and ${marginText}` : ""}`
      : outcome === "fails"
        ? `mean difference ${m} is ${relation === "above" ? "below" : "above"} zero by more than ${twoSd} of the ${n} seeds` +
          `${margin > 0 ? ` and ${marginText}` : ""}: the opposite of the prediction`
        : 2 * sd >= margin
          ? `mean difference ${m} is within ${twoSd} of the ${n} seeds`
          : `mean difference ${m} is within ${marginText} (${twoSd} of the ${n} seeds)`;
  return { relation, a: spreadA, b: spreadB, differences, difference, margin, outcome, reason };
}

/** One quantity measured once per seed, named for the verdict's text. */
export interface SeedQuantity {
  /** What it is, e.g. "naive forgot". */
  label: string;
  /** One value per seed, in the check's seed order. */
  values: readonly number[];
  /**
   * Each seed's run outcome (runOutcome), where the quantity comes from one fine-tuning run: a
   * seed whose run diverged does not measure learning or forgetting, and the check says so instead
   * of counting its numbers.
   */
  outcomes?: readonly RunOutcome[];
}

/** One prediction of a claim, tested over seeds. */
export interface SeedCheck {
  what: string;
  outcome: SeedOutcome;
  /** Mean ± sd of each quantity, the difference, and the reason for the outcome. */
  numbers: string;
  seeds: number[];
  /** Absent where a diverged run decided the check (no comparison was made). */
  comparison?: SeedComparison;
}

/**
 * The check that `a` is `relation` `b` over `seeds` (compareOverSeeds). A quantity whose run
 * diverged at some seed makes the check inconclusive, naming the seed, the run and where it turned:
 * its rise in loss is the run breaking, not forgetting, and its fall no learning.
 */
export function seedCheck(
  what: string,
  a: SeedQuantity,
  relation: SeedRelation,
  b: SeedQuantity | number,
  opts: { seeds: readonly number[]; margin?: number; digits?: number },
): SeedCheck {
  const { seeds, digits = 3 } = opts;
  const seedList = [...seeds];
  for (const q of typeof b === "number" ? [a] : [a, b]) {
    if (q.values.length !== seeds.length)
      throw new Error(
        `seedCheck "${what}": ${q.label} has ${q.values.length} values for ${seeds.length} seeds (${seedList.join(", ")}); expected one value per seed`,
      );
    if (q.outcomes && q.outcomes.length !== seeds.length)
      throw new Error(`seedCheck "${what}": ${q.label} has ${q.outcomes.length} outcomes for ${seeds.length} seeds; expected one per seed`);
  }
  if (seeds.length < MIN_SEEDS)
    throw new Error(
      `seedCheck "${what}": ${seeds.length} seed${seeds.length === 1 ? "" : "s"} given (${seedList.join(", ")}); ` +
        `a check over seeds needs at least ${MIN_SEEDS}: run the study at more seeds, or use verdict() for one seed's run`,
    );
  const diverged = (typeof b === "number" ? [a] : [a, b]).flatMap((q) =>
    (q.outcomes ?? []).flatMap((o, i) => (o.kind === "diverged" ? [`${q.label} at seed ${seeds[i]}: ${o.text}`] : [])),
  );
  if (diverged.length > 0) {
    const numbers = `not compared: ${diverged.join("; ")} (a diverged run's losses are not learning or forgetting)`;
    return { what, outcome: "inconclusive", numbers, seeds: seedList };
  }
  const comparison = compareOverSeeds(a.values, relation, typeof b === "number" ? b : b.values, opts);
  const spread = (s: SeedSpread) => `${s.mean.toFixed(digits)} ± ${s.sd.toFixed(digits)}`;
  const right = typeof b === "number" ? String(b) : `${b.label} ${spread(comparison.b)}`;
  const d = comparison.difference;
  const numbers =
    `${a.label} ${spread(comparison.a)} vs ${right}; difference ${signed(d.mean, digits)} ± ${d.sd.toFixed(digits)}` +
    ` (mean ± sd over seeds); ${comparison.reason}`;
  return { what, outcome: comparison.outcome, numbers, seeds: seedList, comparison };
}
