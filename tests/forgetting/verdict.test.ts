import { describe, expect, it } from "vitest";
import { compareWithMargin, formatTable, maxAbsDiff, verdict, verdictWord, type VerdictCheck } from "../../src/forgetting/index.js";

const check = (ok: boolean, what = "a prediction"): VerdictCheck => ({ what, ok, numbers: "x 1.000" });

describe("verdictWord(checks)", () => {
  it.each([
    [[true, true, true], "SUPPORTED"],
    [[true], "SUPPORTED"],
    [[true, false, true], "PARTLY SUPPORTED"],
    [[false, true], "PARTLY SUPPORTED"],
    [[false, false], "NOT SUPPORTED"],
  ] as const)("%j -> %s", (oks, word) => {
    expect(verdictWord(oks.map((ok) => check(ok)))).toBe(word);
  });

  it("refuses an empty list: a verdict with nothing measured would read as SUPPORTED", () => {
    expect(() => verdictWord([])).toThrow(/no checks given/);
  });
});

describe("verdict(claim, checks, { seed })", () => {
  it("prints the verdict line with the count of checks that hold and the seed, then one line per check", () => {
    const v = verdict(
      "claim 2 (warmup helps)",
      [
        { what: "forgets less", ok: true, numbers: "forgot 0.078 vs 0.137" },
        { what: "still learns", ok: false, numbers: "domain loss 2.009 -> 2.010" },
      ],
      { seed: 3 },
    );
    expect(v.word).toBe("PARTLY SUPPORTED");
    expect(v.held).toBe(1);
    expect(v.text).toBe(
      "Verdict on claim 2 (warmup helps): PARTLY SUPPORTED at this scale (1 of 2 checks hold; seed 3)\n" +
        "  [holds] forgets less: forgot 0.078 vs 0.137\n" +
        "  [fails] still learns: domain loss 2.009 -> 2.010",
    );
  });

  it("matches the line the notebook tests look for", () => {
    const { text } = verdict("x", [check(false)], { seed: 0 });
    expect(text).toMatch(/^Verdict on .+: (SUPPORTED|PARTLY SUPPORTED|NOT SUPPORTED) at this scale \(\d+ of \d+ checks hold; seed 0\)\n/);
  });
});

describe("compareWithMargin(a, b, margin)", () => {
  it.each([
    // a, b, margin, expected
    [1.0, 2.0, 0.5, -1],
    [1.6, 2.0, 0.5, 0], // within the band: a tie
    [2.4, 2.0, 0.5, 0],
    [2.6, 2.0, 0.5, 1],
    [1.5, 2.0, 0.5, 0], // exactly at the band's edge is still a tie
    [0.01, 0, 0.005, 1], // "learned more than the margin"
    [0.004, 0, 0.005, 0],
    [-0.01, 0, 0.005, -1],
    [3, 3, 0, 0],
    [2.999, 3, 0, -1],
  ] as const)("(%f, %f, %f) -> %i", (a, b, margin, expected) => {
    expect(compareWithMargin(a, b, margin)).toBe(expected);
  });

  it("is antisymmetric: swapping the two flips the answer", () => {
    for (const [a, b] of [
      [1, 2],
      [2, 2.1],
      [5, 4],
    ])
      expect(compareWithMargin(a, b, 0.2)).toBe(-compareWithMargin(b, a, 0.2) || 0);
  });

  it("refuses a negative or missing margin", () => {
    expect(() => compareWithMargin(1, 2, -0.1)).toThrow(/margin must be a number >= 0; got -0.1/);
    expect(() => compareWithMargin(1, 2, Number.NaN)).toThrow(/got NaN/);
  });
});

describe("maxAbsDiff(a, b)", () => {
  it("is the largest elementwise distance, 0 for equal arrays", () => {
    expect(maxAbsDiff([1, 2, 3], [1, 2, 3])).toBe(0);
    expect(maxAbsDiff(Float32Array.of(1, -2, 3), [1.5, 2, 2.75])).toBe(4);
    expect(maxAbsDiff([], [])).toBe(0);
  });

  it("refuses arrays of different lengths instead of comparing a prefix", () => {
    expect(() => maxAbsDiff([1, 2], [1])).toThrow(/differ in length \(2 vs 1\)/);
  });
});

describe("formatTable(head, rows)", () => {
  it("left-aligns the first column, right-aligns the rest, two spaces apart, under a rule", () => {
    expect(
      formatTable(
        ["run", "loss"],
        [
          ["naive", "2.009"],
          ["lower LR", "12.5"],
        ],
      ),
    ).toBe(["run        loss", "--------  -----", "naive     2.009", "lower LR   12.5"].join("\n"));
  });

  it("names the row whose cell count is wrong", () => {
    expect(() => formatTable(["a", "b"], [["1", "2"], ["3"]])).toThrow(/row 1 has 1 cells; expected 2, one per column \(a, b\)/);
  });
});
