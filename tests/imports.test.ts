import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const ROOTS = ["src", "widgets/src"];

function tsFiles(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) return tsFiles(path);
    return path.endsWith(".ts") && !path.endsWith(".d.ts") ? [path] : [];
  });
}

/**
 * Relative specifiers a file imports, type-only and dynamic ones included: a cycle of types
 * still means two files that cannot be read (or moved) one without the other.
 */
export function relativeImports(source: string): string[] {
  const found = new Set<string>();
  const patterns = [
    /\b(?:import|export)\s[^;'"]*?\bfrom\s*["'](\.[^"']*)["']/g,
    /\bimport\s*["'](\.[^"']*)["']/g,
    /\bimport\s*\(\s*["'](\.[^"']*)["']\s*\)/g,
  ];
  for (const re of patterns) for (const m of source.matchAll(re)) found.add(m[1]);
  return [...found];
}

/** The .ts file a specifier names (NodeNext style: "./x.js" is ./x.ts), or undefined outside the tree. */
function resolveImport(from: string, spec: string, files: Set<string>): string | undefined {
  const base = resolve(dirname(from), spec);
  const candidates = [base.replace(/\.js$/, ".ts"), `${base}.ts`, join(base, "index.ts")];
  return candidates.find((c) => files.has(c));
}

/** Every cycle's files in import order (one cycle per strongly connected component, Tarjan's algorithm). */
export function importCycles(graph: Map<string, string[]>): string[][] {
  let next = 0;
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const cycles: string[][] = [];
  const visit = (v: string) => {
    index.set(v, next);
    low.set(v, next++);
    stack.push(v);
    onStack.add(v);
    for (const w of graph.get(v) ?? []) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) !== index.get(v)) return;
    const component: string[] = [];
    let w: string;
    do {
      w = stack.pop()!;
      onStack.delete(w);
      component.push(w);
    } while (w !== v);
    const selfLoop = (graph.get(v) ?? []).includes(v);
    if (component.length > 1 || selfLoop) cycles.push(pathThrough(graph, new Set(component), v));
  };
  for (const v of [...graph.keys()].sort()) if (!index.has(v)) visit(v);
  return cycles.sort((x, y) => x[0].localeCompare(y[0]));
}

/** One closed walk from `start` back to it inside a component (breadth-first, so the shortest). */
function pathThrough(graph: Map<string, string[]>, component: Set<string>, start: string): string[] {
  const previous = new Map<string, string>();
  const queue = [start];
  while (queue.length) {
    const v = queue.shift()!;
    for (const w of graph.get(v) ?? []) {
      if (!component.has(w)) continue;
      if (w === start) {
        const path = [v];
        while (path[0] !== start) path.unshift(previous.get(path[0])!);
        return [...path, start];
      }
      if (!previous.has(w)) {
        previous.set(w, v);
        queue.push(w);
      }
    }
  }
  return [start, start];
}

describe("importCycles(graph)", () => {
  it("finds a two-file cycle, a longer one and a self-import, and nothing in a tree", () => {
    const graph = new Map([
      ["a", ["b"]],
      ["b", ["a", "c"]],
      ["c", ["d"]],
      ["d", ["e"]],
      ["e", ["c"]],
      ["f", ["f"]],
      ["g", ["a"]],
    ]);
    expect(importCycles(graph)).toEqual([
      ["a", "b", "a"],
      ["c", "d", "e", "c"],
      ["f", "f"],
    ]);
    expect(
      importCycles(
        new Map([
          ["a", ["b", "c"]],
          ["b", ["c"]],
          ["c", []],
        ]),
      ),
    ).toEqual([]);
  });

  it("reads type-only, re-export and dynamic imports, and no package imports", () => {
    const source = [
      `import * as tf from "@tensorflow/tfjs";`,
      `import { a, type B } from "./a.js";`,
      `import type {\n  C,\n} from "../c.js";`,
      `export { d } from "./d/index.js";`,
      `export * from "./e.js";`,
      `const { f } = await import("./f.js");`,
      `import "./g.js";`,
    ].join("\n");
    expect(relativeImports(source).sort()).toEqual(["../c.js", "./a.js", "./d/index.js", "./e.js", "./f.js", "./g.js"]);
  });
});

describe("the source tree", () => {
  it("has no import cycle in src/ or widgets/src/", () => {
    const files = new Set(ROOTS.flatMap((r) => tsFiles(join(ROOT, r))));
    const graph = new Map<string, string[]>();
    for (const file of files) {
      const targets = relativeImports(readFileSync(file, "utf8")).map((s) => resolveImport(file, s, files));
      graph.set(file, [...new Set(targets.filter((t): t is string => t !== undefined))]);
    }
    expect(files.size).toBeGreaterThan(50);
    const cycles = importCycles(graph).map((c) => c.map((f) => relative(ROOT, f)).join(" -> "));
    expect(cycles, `import cycles:\n${cycles.join("\n")}`).toEqual([]);
  });
});
