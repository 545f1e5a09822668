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

  it("literalVerdictProblems flags a typed-in verdict word or number and passes computed ones", () => {
    expect(literalVerdictProblems('verdict("x", [{ what: "a", ok: true, numbers: "forgot 0.31" }])')).toEqual([
      'literal number in "forgot 0.31"',
    ]);
    expect(literalVerdictProblems('console.log("Claim 1: SUPPORTED")')).toEqual([
      'literal verdict word in "Claim 1: SUPPORTED"',
      'literal number in "Claim 1: SUPPORTED"',
    ]);
    // What the article predicts may quote its numbers; what was measured may not.
    expect(literalVerdictProblems('verdict("6 (plan)", [{ what: "layers 1-6 frozen", ok: x, numbers: `h.${i}` }])')).toEqual([]);
    expect(literalVerdictProblems('verdict("6", [{ what: "layers frozen", ok: x, numbers: "rank 8 on GPT-2" }])')).toEqual([
      'literal number in "rank 8 on GPT-2"',
    ]);
    expect(
      literalVerdictProblems("verdict(claim, [{ what: `the run learns`, ok: a.gain > MARGIN, numbers: `loss ${f3(a.loss)}` }])"),
    ).toEqual([]);
    // study.printVerdict: the claim may name its number, the measurements may not be typed in.
    expect(literalVerdictProblems('study.printVerdict("claim 2 (x)", [{ what: "a", ok: x, numbers: `forgot ${f}` }])')).toEqual([]);
    expect(literalVerdictProblems('study.printVerdict("claim 2", [{ what: "a", ok: x, numbers: "forgot 0.078" }])')).toEqual([
      'literal number in "forgot 0.078"',
    ]);
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
