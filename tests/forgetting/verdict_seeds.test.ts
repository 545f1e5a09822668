import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  compareOverSeeds,
  seedCheck,
  seedSpread,
  seedVerdict,
  seedVerdictWord,
  type RunOutcome,
  type SeedCheck,
  type SeedRelation,
} from "../../src/forgetting/index.js";

/** Written by tests/fixtures/seed_stats.py (Python's statistics module, and the rule restated there). */
interface Case {
  name: string;
  a: number[];
  relation: SeedRelation;
  b: number[] | number;
  margin: number;
  spreadA: { mean: number; sd: number };
  spreadB: { mean: number; sd: number };
  differences: number[];
  difference: { mean: number; sd: number };
  unpairedSd: number;
  outcome: "holds" | "fails" | "inconclusive";
}
const CASES: Case[] = JSON.parse(readFileSync(new URL("../fixtures/seed_stats.json", import.meta.url), "utf8"));

/** Equal to 12 significant digits (Python's stdev is correctly rounded; ours is a two-pass float sum). */
const close = (x: number, y: number) => expect(Math.abs(x - y)).toBeLessThanOrEqual(1e-12 * Math.max(1, Math.abs(y)));

describe("compareOverSeeds against Python's statistics module", () => {
  it.each(CASES.map((c) => [c.name, c] as const))("%s", (_, c) => {
    const r = compareOverSeeds(c.a, c.relation, c.b, { margin: c.margin });
    close(r.a.mean, c.spreadA.mean);
    close(r.a.sd, c.spreadA.sd);
    close(r.b.mean, c.spreadB.mean);
    close(r.b.sd, c.spreadB.sd);
    r.differences.forEach((d, i) => close(d, c.differences[i]));
    close(r.difference.mean, c.difference.mean);
    close(r.difference.sd, c.difference.sd);
    expect(r.difference.n).toBe(c.a.length);
    expect(r.outcome).toBe(c.outcome);
  });

  it("reaches every outcome in the fixture, the boundary (mean exactly 2 sd) included", () => {
    expect(new Set(CASES.map((c) => c.outcome))).toEqual(new Set(["holds", "fails", "inconclusive"]));
    // Differences 1, 2, 3: mean 2, sd 1, so the mean is exactly 2 sd: not more, hence inconclusive.
    expect(compareOverSeeds([1e9 + 1, 1e9 + 2, 1e9 + 3], "above", 1e9).outcome).toBe("inconclusive");
    // 1.01, 2, 2.99: mean 2, sd 0.99, so 2 sd = 1.98 < 2.
    expect(compareOverSeeds([1e9 + 1.01, 1e9 + 2, 1e9 + 2.99], "above", 1e9).outcome).toBe("holds");
  });

  it("spreads the paired differences, not a and b apart: seeds that move both runs alike cancel", () => {
    const c = CASES.find((x) => x.name === "paired beats unpaired")!;
    const r = compareOverSeeds(c.a, c.relation, c.b, { margin: c.margin });
    // a = 2.10, 2.40, 2.70 and b = 2.05, 2.36, 2.64: each seed shifts both; the differences are
    // 0.05, 0.04, 0.06 (mean 0.05, sd 0.01), while a and b alone spread by 0.30 each.
    expect(r.outcome).toBe("holds");
    close(r.difference.sd, 0.01);
    expect(2 * c.unpairedSd).toBeGreaterThan(r.difference.mean); // unpaired, the same data would read inconclusive
  });

  it("says why in words: the mean difference, 2 sd, the seed count and the margin", () => {
    // 0.010, 0.030, -0.004 vs 0: mean 0.012; deviations -0.002, 0.018, -0.016, squares sum 0.000584,
    // / 2 = 0.000292, sd 0.01709, 2 sd 0.034 > 0.012.
    expect(compareOverSeeds([0.01, 0.03, -0.004], "above", 0, { margin: 0.005 }).reason).toBe(
      "mean difference +0.012 is within 2 sd = 0.034 of the 3 seeds",
    );
    // Differences 0.0021, 0.0022, 0.0023: sd 0.0001, so the margin 0.005 is the bar.
    expect(compareOverSeeds([2.0021, 2.0022, 2.0023], "above", 2, { margin: 0.005 }).reason).toBe(
      "mean difference +0.002 is within the margin 0.005 (2 sd = 0.000 of the 3 seeds)",
    );
    // a - b = 0.030, 0.032, 0.031: mean +0.031, sd 0.001; predicted below, measured above.
    expect(compareOverSeeds([0.051, 0.062, 0.055], "below", [0.021, 0.03, 0.024], { margin: 0.005 }).reason).toBe(
      "mean difference +0.031 is above zero by more than 2 sd = 0.002 of the 3 seeds and the margin 0.005: the opposite of the prediction",
    );
    expect(compareOverSeeds([3, 4, 5], "above", [1, 1.9, 3.1]).reason).toBe("mean difference +2.000 exceeds 2 sd = 0.200 of the 3 seeds");
  });

  it("refuses fewer than 3 seeds, naming the count", () => {
    expect(() => compareOverSeeds([1, 2], "above", [0, 0])).toThrow(/a has 2 seeds; a spread over seeds needs at least 3/);
    expect(() => compareOverSeeds([1], "above", 0)).toThrow(/a has 1 seed; .* at least 3 \(with fewer the standard deviation rests on 0/);
    expect(() => seedSpread([])).toThrow(/values has 0 seeds/);
  });

  it("refuses unpaired lengths, non-finite values, a bad relation or margin", () => {
    expect(() => compareOverSeeds([1, 2, 3], "above", [1, 2])).toThrow(/a has 3 seeds and b has 2; paired by seed/);
    expect(() => compareOverSeeds([1, Number.NaN, 3], "above", 0)).toThrow(
      /a\[1\] is NaN; every seed's measurement must be a finite number/,
    );
    expect(() => compareOverSeeds([1, 2, 3], "over" as SeedRelation, 0)).toThrow(/relation must be "above" or "below"; got "over"/);
    expect(() => compareOverSeeds([1, 2, 3], "above", 0, { margin: -1 })).toThrow(/margin must be a number >= 0; got -1/);
  });
});

const SEEDS = [0, 1, 2];
const naive = { label: "naive forgot", values: [2.217, 2.104, 2.351] };
const lowLr = { label: "10x lower LR forgot", values: [0.353, 0.331, 0.372] };

describe("seedCheck", () => {
  it("prints mean ± sd of each quantity and of the difference, then the reason", () => {
    // naive: mean 6.672 / 3 = 2.224; deviations -0.007, -0.120, 0.127; squares sum 0.030578, / 2,
    // sd 0.1237. Lower LR: mean 0.352; squares 1e-6 + 4.41e-4 + 4e-4, / 2, sd 0.0205.
    // Differences 1.864, 1.773, 1.979: mean 1.872, sd 0.1032 (the fixture's first case).
    const c = seedCheck("a high LR forgets more than a low one", naive, "above", lowLr, { seeds: SEEDS, margin: 0.005 });
    expect(c.outcome).toBe("holds");
    expect(c.numbers).toBe(
      "naive forgot 2.224 ± 0.124 vs 10x lower LR forgot 0.352 ± 0.021; difference +1.872 ± 0.103 (mean ± sd over seeds); " +
        "mean difference +1.872 exceeds 2 sd = 0.206 of the 3 seeds and the margin 0.005",
    );
    expect(c.seeds).toEqual(SEEDS);
  });

  it("compares with a constant: `b` the same for every seed", () => {
    const c = seedCheck("the naive run learns", { label: "learned", values: [0.01, 0.03, -0.004] }, "above", 0, {
      seeds: SEEDS,
      margin: 0.005,
    });
    expect(c.outcome).toBe("inconclusive");
    expect(c.numbers).toMatch(/^learned 0\.012 ± 0\.017 vs 0; difference \+0\.012 ± 0\.017 .*within 2 sd = 0\.034 of the 3 seeds$/);
  });

  it("refuses fewer than 3 seeds and values that do not match the seeds", () => {
    const two = { label: "x", values: [1, 2] };
    expect(() => seedCheck("p", two, "above", 0, { seeds: [4, 7] })).toThrow(
      /seedCheck "p": 2 seeds given \(4, 7\); a check over seeds needs at least 3/,
    );
    expect(() => seedCheck("p", two, "above", 0, { seeds: SEEDS })).toThrow(/seedCheck "p": x has 2 values for 3 seeds \(0, 1, 2\)/);
  });

  it("does not count a diverged run's numbers: the check is inconclusive and names the seed and the turn", () => {
    const ok: RunOutcome = { name: "naive", kind: "learned and forgot", text: "learned and forgot: ..." };
    const broke: RunOutcome = {
      name: "naive",
      kind: "diverged",
      turn: { step: 40, loss: 1.9 },
      text: "diverged: turned at step 40 (1.900)",
    };
    const c = seedCheck("the naive run forgets", { ...naive, outcomes: [ok, broke, ok] }, "above", 0, { seeds: SEEDS, margin: 0.005 });
    expect(c.outcome).toBe("inconclusive");
    expect(c.comparison).toBeUndefined();
    expect(c.numbers).toBe(
      "not compared: naive forgot at seed 1: diverged: turned at step 40 (1.900) (a diverged run's losses are not learning or forgetting)",
    );
    expect(seedCheck("the naive run forgets", { ...naive, outcomes: [ok, ok, ok] }, "above", 0, { seeds: SEEDS }).outcome).toBe("holds");
  });
});

const check = (outcome: SeedCheck["outcome"], what = `${outcome} check`): SeedCheck => ({ what, outcome, numbers: "x", seeds: SEEDS });

describe("seedVerdictWord(checks): any fails -> REFUTED, else any inconclusive -> INCONCLUSIVE, else SUPPORTED", () => {
  it.each([
    [["holds", "holds"], "SUPPORTED"],
    [["holds"], "SUPPORTED"],
    [["holds", "fails", "holds"], "REFUTED"],
    [["inconclusive", "fails"], "REFUTED"],
    [["holds", "inconclusive"], "INCONCLUSIVE"],
    [["inconclusive"], "INCONCLUSIVE"],
  ] as const)("%j -> %s", (outcomes, word) => {
    expect(seedVerdictWord(outcomes.map((o) => check(o)))).toBe(word);
  });

  it("refuses an empty list", () => {
    expect(() => seedVerdictWord([])).toThrow(/no checks given/);
  });
});

describe("seedVerdict(claim, checks)", () => {
  const forgets = seedCheck("the naive run forgets", naive, "above", 0, { seeds: SEEDS, margin: 0.005 });
  const lr = seedCheck("a high LR forgets more than a low one", naive, "above", lowLr, { seeds: SEEDS, margin: 0.005 });
  const learns = seedCheck("the naive run learns", { label: "learned", values: [0.01, 0.03, -0.004] }, "above", 0, {
    seeds: SEEDS,
    margin: 0.005,
  });
  const less = seedCheck("a low LR forgets more", lowLr, "above", naive, { seeds: SEEDS, margin: 0.005 });

  it("SUPPORTED: every check holds; the line names the seeds and the counts", () => {
    const v = seedVerdict("claim 1", [forgets, lr]);
    expect(v.word).toBe("SUPPORTED");
    expect(v.text.split("\n")[0]).toBe(
      "Verdict on claim 1: SUPPORTED at this scale over seeds 0, 1, 2 (2 of 2 checks hold, 0 fail, 0 inconclusive)",
    );
    expect(v.text.split("\n")[2]).toBe(`  [holds] a high LR forgets more than a low one: ${lr.numbers}`);
  });

  it("REFUTED: one failing check refutes the claim, and the line names it", () => {
    const v = seedVerdict("claim 1", [forgets, learns, less]);
    expect(v.word).toBe("REFUTED");
    expect(v.failed).toEqual(["a low LR forgets more"]);
    expect(v.text.split("\n")[0]).toBe(
      "Verdict on claim 1: REFUTED at this scale over seeds 0, 1, 2 (1 of 3 checks hold, 1 fail, 1 inconclusive; refuted by: a low LR forgets more)",
    );
    expect(v.text).toContain("  [fails] a low LR forgets more: 10x lower LR forgot 0.352 ± 0.021 vs naive forgot 2.224 ± 0.124;");
  });

  it("INCONCLUSIVE: none fails, some cannot be told from the seed spread; the line names them and the check the spread", () => {
    const v = seedVerdict("claim 1", [forgets, learns]);
    expect(v.word).toBe("INCONCLUSIVE");
    expect(v.text.split("\n")[0]).toBe(
      "Verdict on claim 1: INCONCLUSIVE at this scale over seeds 0, 1, 2 " +
        "(1 of 2 checks hold, 0 fail, 1 inconclusive; none fails; undecided within the seed spread: the naive run learns)",
    );
    expect(v.text.split("\n")[2]).toMatch(/^ {2}\[inconclusive\] the naive run learns: .*within 2 sd = 0\.034 of the 3 seeds$/);
  });

  it("refuses checks measured on different seeds", () => {
    const other = seedCheck("the naive run forgets", naive, "above", 0, { seeds: [3, 4, 5] });
    expect(() => seedVerdict("claim 1", [forgets, other])).toThrow(
      /check "the naive run forgets" is over seeds 3, 4, 5 but "the naive run forgets" over 0, 1, 2/,
    );
  });
});
