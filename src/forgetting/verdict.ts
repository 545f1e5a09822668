import type { SeedCheck } from "./seeds.js";

/**
 * The verdict on one of the article's claims, computed from measured numbers: each check is one
 * prediction of the claim with the numbers behind it; the verdict word only counts what held.
 * `verdict` judges one seed's run; `seedVerdict` judges checks measured over several seeds
 * (seeds.ts), where a check holds, fails or is inconclusive against the seed spread.
 */

/** One prediction of a claim, tested on the measurements. */
export interface VerdictCheck {
  /** What the claim predicts, in words (it may quote the article's numbers). */
  what: string;
  ok: boolean;
  /** The measured numbers behind `ok`. */
  numbers: string;
}

export type VerdictWord = "SUPPORTED" | "PARTLY SUPPORTED" | "NOT SUPPORTED";

export interface Verdict {
  claim: string;
  word: VerdictWord;
  /** How many checks hold, of `checks.length`. */
  held: number;
  checks: VerdictCheck[];
  /** The verdict line and one line per check, as the notebooks print it. */
  text: string;
}

/** Every check holds -> supported; none -> not supported; anything between -> partly. */
export function verdictWord(checks: readonly VerdictCheck[]): VerdictWord {
  if (checks.length === 0) throw new Error("verdictWord: no checks given; a verdict needs at least one measured check");
  const held = checks.filter((c) => c.ok).length;
  return held === checks.length ? "SUPPORTED" : held === 0 ? "NOT SUPPORTED" : "PARTLY SUPPORTED";
}

/**
 * The verdict on `claim` from its checks. The seed is part of the line because the verdict holds
 * for one run: another seed may tip a check that sits near its margin.
 */
export function verdict(claim: string, checks: readonly VerdictCheck[], opts: { seed: number }): Verdict {
  const word = verdictWord(checks);
  const held = checks.filter((c) => c.ok).length;
  const head = `Verdict on ${claim}: ${word} at this scale (${held} of ${checks.length} checks hold; seed ${opts.seed})`;
  const lines = checks.map((c) => `  [${c.ok ? "holds" : "fails"}] ${c.what}: ${c.numbers}`);
  return { claim, word, held, checks: [...checks], text: [head, ...lines].join("\n") };
}

/**
 * The verdict words of a claim measured over seeds (seedVerdict). A claim is the conjunction of
 * its checks, so one check the seeds contradict refutes it as stated; "partly" has no place: a
 * check that neither holds nor fails beyond the seed spread is reported as inconclusive, not
 * counted for or against.
 */
export type SeedVerdictWord = "SUPPORTED" | "REFUTED" | "INCONCLUSIVE";

/** Any check fails -> REFUTED; else any inconclusive -> INCONCLUSIVE; all hold -> SUPPORTED. */
export function seedVerdictWord(checks: readonly Pick<SeedCheck, "outcome">[]): SeedVerdictWord {
  if (checks.length === 0) throw new Error("seedVerdictWord: no checks given; a verdict needs at least one measured check");
  if (checks.some((c) => c.outcome === "fails")) return "REFUTED";
  return checks.some((c) => c.outcome === "inconclusive") ? "INCONCLUSIVE" : "SUPPORTED";
}

export interface SeedVerdict {
  claim: string;
  word: SeedVerdictWord;
  seeds: number[];
  /** The checks that hold, fail and are inconclusive, by `what`. */
  held: string[];
  failed: string[];
  inconclusive: string[];
  checks: SeedCheck[];
  /** The verdict line (naming any failing check and the seeds), then one line per check. */
  text: string;
}

/**
 * The verdict on `claim` from checks over the same seeds (seedCheck). The line names the checks
 * that refute it, or how many the spread left open, so the word is never read without its reason.
 */
export function seedVerdict(claim: string, checks: readonly SeedCheck[]): SeedVerdict {
  const word = seedVerdictWord(checks);
  const seeds = checks[0].seeds;
  for (const c of checks)
    if (c.seeds.join(",") !== seeds.join(","))
      throw new Error(
        `seedVerdict on ${claim}: check "${c.what}" is over seeds ${c.seeds.join(", ")} but "${checks[0].what}" over ${seeds.join(", ")}; ` +
          "every check of a claim must be measured on the same seeds",
      );
  const by = (outcome: SeedCheck["outcome"]) => checks.filter((c) => c.outcome === outcome).map((c) => c.what);
  const [held, failed, inconclusive] = [by("holds"), by("fails"), by("inconclusive")];
  const counts = `${held.length} of ${checks.length} checks hold, ${failed.length} fail, ${inconclusive.length} inconclusive`;
  const why =
    word === "REFUTED"
      ? `; refuted by: ${failed.join("; ")}`
      : word === "INCONCLUSIVE"
        ? `; none fails; undecided within the seed spread: ${inconclusive.join("; ")}`
        : "";
  const head = `Verdict on ${claim}: ${word} at this scale over seeds ${seeds.join(", ")} (${counts}${why})`;
  const lines = checks.map((c) => `  [${c.outcome}] ${c.what}: ${c.numbers}`);
  return { claim, word, seeds: [...seeds], held, failed, inconclusive, checks: [...checks], text: [head, ...lines].join("\n") };
}

/**
 * Compares two measurements with a tie band: -1 when `a` is below `b` by more than `margin`, 1
 * when above by more, 0 (a tie) otherwise. Losses of runs that differ only by noise should not
 * decide a claim either way.
 */
export function compareWithMargin(a: number, b: number, margin: number): -1 | 0 | 1 {
  if (!(margin >= 0)) throw new Error(`compareWithMargin: margin must be a number >= 0; got ${margin}`);
  if (a < b - margin) return -1;
  if (a > b + margin) return 1;
  return 0;
}

/** The largest |a[i] - b[i]|: how far two outputs (logits, weights) are from equal. */
export function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  if (a.length !== b.length)
    throw new Error(`maxAbsDiff: the arrays differ in length (${a.length} vs ${b.length}); expected equal lengths`);
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}
