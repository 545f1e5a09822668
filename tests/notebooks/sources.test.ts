import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
// @ts-expect-error: a plain JavaScript build script without type declarations
import { KERNELSPEC, parseSource } from "../../notebooks/build.mjs";

const ROOT = join(import.meta.dirname, "..", "..");
const SOURCES = readdirSync(join(ROOT, "notebooks", "src")).filter((f) => f.endsWith(".md") && !f.startsWith("_")).sort();
const NOTEBOOKS = readdirSync(join(ROOT, "notebooks")).filter((f) => f.endsWith(".ipynb")).sort();
const text = (s: string | string[]) => (Array.isArray(s) ? s.join("") : s);

describe("committed notebooks", () => {
  it("every notebooks/src/*.md has its notebook and every notebook its source", () => {
    expect(NOTEBOOKS).toEqual(SOURCES.map((f) => f.replace(/\.md$/, ".ipynb")));
  });

  it.each(SOURCES)("%s: the .ipynb holds the cells build.mjs makes from it, on the lora-lab kernel", (file) => {
    const nb = JSON.parse(readFileSync(join(ROOT, "notebooks", file.replace(/\.md$/, ".ipynb")), "utf8"));
    const built = (parseSource(readFileSync(join(ROOT, "notebooks", "src", file), "utf8")) as { type: string; source: string }[]).map((c) => [c.type, c.source]);
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
