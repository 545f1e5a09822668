import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { literalText, literalVerdictProblems } from "./verdict_source.js";

const ROOT = join(import.meta.dirname, "..", "..");
const NOTEBOOKS = readdirSync(join(ROOT, "notebooks"))
  .filter((f) => f.endsWith(".ipynb"))
  .sort();
const sourceOf = (cell: { source: string | string[] }) => (Array.isArray(cell.source) ? cell.source.join("") : cell.source);

describe("literalText", () => {
  it("literalText returns string contents and template text, not ${...} expressions or comments", () => {
    const src = "// a 'comment'\nf(\"one\", 'two', `three ${x.toFixed(2)} four ${`in${y}ner`}`); /* \"no\" */ g({ a: 1 });";
    expect(literalText(src)).toEqual(["one", "two", "three ", " four ", "in", "ner"]);
  });
});

describe("literalVerdictProblems", () => {
  it("flags a typed-in verdict word or number in strings and passes computed ones", () => {
    expect(literalVerdictProblems('verdict("x", [{ what: "a", ok: x > y, numbers: "forgot 0.31" }])')).toEqual([
      'constant numbers "forgot 0.31" (line 1)',
      'literal number in "forgot 0.31"',
    ]);
    expect(literalVerdictProblems('console.log("Claim 1: SUPPORTED")')).toEqual([
      'literal verdict word in "Claim 1: SUPPORTED"',
      'literal number in "Claim 1: SUPPORTED"',
    ]);
    // What the article predicts may quote its numbers; what was measured may not.
    expect(literalVerdictProblems('verdict("6 (plan)", [{ what: "layers 1-6 frozen", ok: x, numbers: `h.${i}` }])')).toEqual([]);
    expect(literalVerdictProblems('verdict("6", [{ what: "layers frozen", ok: x, numbers: `rank 8 on GPT-2 ${r}` }])')).toEqual([
      'literal number in "rank 8 on GPT-2 "',
    ]);
    expect(
      literalVerdictProblems("verdict(claim, [{ what: `the run learns`, ok: a.gain > MARGIN, numbers: `loss ${f3(a.loss)}` }])"),
    ).toEqual([]);
    // study.printVerdict: the claim may name its number, the measurements may not be typed in.
    expect(literalVerdictProblems('study.printVerdict("claim 2 (x)", [{ what: "a", ok: x, numbers: `forgot ${f}` }])')).toEqual([]);
    expect(literalVerdictProblems('study.printVerdict("claim 2", [{ what: "a", ok: x, numbers: `forgot 0.078 ${f}` }])')).toEqual([
      'literal number in "forgot 0.078 "',
    ]);
  });

  // Typed-in results written as code, with no number or verdict word in any string.
  it.each([
    [
      "ok: true",
      "study.printVerdict(claim, [{ what: w, ok: true, numbers: `forgot ${f}` }])",
      ["constant ok true (line 1)", "literal true in code (line 1)"],
    ],
    [
      "a literal false anywhere",
      "const held = false;\nstudy.printVerdict(claim, [{ what: w, ok: held, numbers: n }])",
      ["literal false in code (line 1)"],
    ],
    ["ok: 1 > 0", "verdict(claim, [{ what: w, ok: 1 > 0, numbers: n }])", ["constant ok 1 > 0 (line 1)"]],
    [
      "ok from a helper on constants",
      "verdict(claim, [{ what: w, ok: study.above(0.5, 0), numbers: n }])",
      ["constant ok study.above(0.5, 0) (line 1)"],
    ],
    ["numbers: 0.31", "verdict(claim, [{ what: w, ok: x, numbers: 0.31 }])", ["constant numbers 0.31 (line 1)"]],
    [
      "a number in ${...}",
      "verdict(claim, [{ what: w, ok: x, numbers: `forgot ${0.31}` }])",
      ["constant numbers `forgot ${0.31}` (line 1)", "constant ${...} 0.31 (line 1)"],
    ],
    [
      "a formatted constant",
      "verdict(claim, [{ what: w, ok: x, numbers: `forgot ${(0.31).toFixed(3)}` }])",
      ["constant numbers `forgot ${(0.31).toFixed(3)}` (line 1)", "constant ${...} (0.31).toFixed(3) (line 1)"],
    ],
    ["String(0.31)", "verdict(claim, [{ what: w, ok: x, numbers: String(0.31) }])", ["constant numbers String(0.31) (line 1)"]],
    [
      "a number added to a string",
      'const n = "forgot " + 0.31;\nverdict(claim, [{ what: w, ok: x, numbers: n }])',
      ["constant added to a string: 0.31 (line 1)"],
    ],
  ])("flags %s", (_, source, problems) => {
    expect(literalVerdictProblems(source)).toEqual(problems);
  });

  it("passes thresholds and unit conversions applied to measured values, and ignores comments", () => {
    const source = [
      "// ok: true, numbers: 0.31, SUPPORTED",
      "const mib = (b: number) => `${(b / 2 ** 20).toFixed(1)} MiB`;",
      "study.printVerdict(claim, [",
      "  { what: w, ok: lora.trainable < full.trainable / 10, numbers: `${(100 * lora.trainable / full.trainable).toFixed(2)}%` },",
      "  { what: w, ok: offGap < 1e-5 && ffnMoved === 0, numbers: `moved ${ffnMoved}, ${mib(bytes)}` + ` of ${lab.formatCount(n)}` },",
      "]);",
    ].join("\n");
    expect(literalVerdictProblems(source)).toEqual([]);
  });
});

describe("verdict cells of the committed notebooks", () => {
  it.each(NOTEBOOKS.filter((f) => !f.startsWith("00-")))(
    "%s has one verdict cell whose words and numbers all come from variables",
    (file) => {
      const nb = JSON.parse(readFileSync(join(ROOT, "notebooks", file), "utf8"));
      const cells = nb.cells.filter(
        (c: { cell_type: string; source: string | string[] }) => c.cell_type === "code" && sourceOf(c).startsWith("// Verdict"),
      );
      expect(cells).toHaveLength(1);
      const source = sourceOf(cells[0]);
      expect(source).toMatch(/\b(verdict|printVerdict)\(/);
      expect(literalVerdictProblems(source)).toEqual([]);
    },
  );
});
