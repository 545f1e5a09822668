/**
 * The verdict on one of the article's claims, computed from measured numbers: each check is one
 * prediction of the claim with the numbers behind it; the verdict word only counts what held.
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
