import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain JavaScript build script without type declarations
import { KERNELSPEC, parseSource } from "../../notebooks/build.mjs";
import * as lab from "../../src/index.js";
import { definedFunctions } from "./cell_source.js";

const ROOT = join(import.meta.dirname, "..", "..");
const SOURCES = readdirSync(join(ROOT, "notebooks", "src"))
  .filter((f) => f.endsWith(".md") && !f.startsWith("_"))
  .sort();
const NOTEBOOKS = readdirSync(join(ROOT, "notebooks"))
  .filter((f) => f.endsWith(".ipynb"))
  .sort();
const text = (s: string | string[]) => (Array.isArray(s) ? s.join("") : s);

describe("committed notebooks", () => {
  it("every notebooks/src/*.md has its notebook and every notebook its source", () => {
    expect(NOTEBOOKS).toEqual(SOURCES.map((f) => f.replace(/\.md$/, ".ipynb")));
  });

  it.each(SOURCES)("%s: the .ipynb holds the cells build.mjs makes from it, on the lora-lab kernel", (file) => {
    const nb = JSON.parse(readFileSync(join(ROOT, "notebooks", file.replace(/\.md$/, ".ipynb")), "utf8"));
    const built = (parseSource(readFileSync(join(ROOT, "notebooks", "src", file), "utf8")) as { type: string; source: string }[]).map(
      (c) => [c.type, c.source],
    );
    expect(nb.cells.map((c: { cell_type: string; source: string | string[] }) => [c.cell_type, text(c.source)])).toEqual(built);
    expect(nb.metadata.kernelspec).toEqual(KERNELSPEC);
  });

  it.each(NOTEBOOKS)("%s was executed and saved with its outputs: every code cell ran, in order", (file) => {
    const nb = JSON.parse(readFileSync(join(ROOT, "notebooks", file), "utf8"));
    const code = nb.cells.filter((c: { cell_type: string }) => c.cell_type === "code");
    expect(code.map((c: { execution_count: number | null }) => c.execution_count)).toEqual(code.map((_: unknown, i: number) => i + 1));
    expect(code.flatMap((c: { outputs: { output_type: string }[] }) => c.outputs.filter((o) => o.output_type === "error"))).toEqual([]);
  });
});

/** The code cells of one source, as build.mjs makes them. */
const codeCells = (file: string): string[] =>
  (parseSource(readFileSync(join(ROOT, "notebooks", "src", file), "utf8")) as { type: string; source: string }[])
    .filter((c) => c.type === "code")
    .map((c) => c.source);
const MAX_LINE = 100;
const MAX_FIRST_CELL_LINES = 12;

describe("definedFunctions(source)", () => {
  it("finds function declarations and consts bound to arrows or function expressions, not other consts", () => {
    const src = [
      "function summarize(runs) {}",
      "async function finetune(name: string) {}",
      "const f3 = (x: number) => x.toFixed(3);",
      "const py = (v: unknown): string => {",
      "const loadBase = async () => lab.loadBase();",
      "const twice = x => 2 * x;",
      "const g = function () {};",
      "const runs = [naive, lowLr];",
      "const times: number[][] = atInference.map(([, m]) => []);",
      "  ok: study.above(a, b),",
    ].join("\n");
    expect(definedFunctions(src)).toEqual(["summarize", "finetune", "f3", "py", "loadBase", "twice", "g"]);
  });
});

describe("notebooks teach, not plumb", () => {
  it.each(SOURCES)(`%s: no line of a code cell is over ${MAX_LINE} characters`, (file) => {
    const long = codeCells(file).flatMap((cell, i) =>
      cell
        .split("\n")
        .filter((l) => l.length > MAX_LINE)
        .map((l) => `cell ${i + 1}: ${l}`),
    );
    expect(long).toEqual([]);
  });

  it.each(SOURCES)(`%s: the first code cell is the imports and parameters, at most ${MAX_FIRST_CELL_LINES} lines`, (file) => {
    const [first] = codeCells(file);
    expect(first).toMatch(/^import \* as lab from "lora-lab";$/m);
    expect(first.split("\n").length).toBeLessThanOrEqual(MAX_FIRST_CELL_LINES);
  });

  it("no notebook defines a function under a name the library exports (use lab.<name> instead)", () => {
    const exported = new Set(Object.keys(lab));
    const shadowing = SOURCES.flatMap((file) =>
      codeCells(file)
        .flatMap(definedFunctions)
        .filter((name) => exported.has(name))
        .map((name) => `${file}: ${name}`),
    );
    expect(shadowing).toEqual([]);
  });

  it("no two notebooks define a helper function of the same name (a shared helper belongs in the library)", () => {
    const definedIn = new Map<string, string[]>();
    for (const file of SOURCES) {
      for (const name of new Set(codeCells(file).flatMap(definedFunctions))) definedIn.set(name, [...(definedIn.get(name) ?? []), file]);
    }
    expect([...definedIn].filter(([, files]) => files.length > 1).map(([name, files]) => `${name}: ${files.join(", ")}`)).toEqual([]);
  });
});
