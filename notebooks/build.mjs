#!/usr/bin/env node
/**
 * Builds notebooks/*.ipynb from the readable sources in notebooks/src/*.md: each ```ts fence is a
 * code cell and the prose between fences is one markdown cell. What notebooks share lives in the
 * library (lab.forgettingStudy and friends), not in pasted code, so each cell reads on its own. A
 * cell whose source is unchanged keeps the outputs the .ipynb already has, so prose edits do not
 * throw away executed results.
 *
 *   node notebooks/build.mjs              write every notebook
 *   node notebooks/build.mjs 01           only those whose name starts with 01
 *   node notebooks/build.mjs --script 01  print its code cells as one TypeScript file (prototyping
 *                                         with `npx vite-node`, no kernel needed)
 */
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));
const srcDir = path.join(here, "src");

export const KERNELSPEC = { name: "lora-lab", display_name: "TypeScript (lora-lab)", language: "typescript" };

/** Cells of one source file: [{ type: "markdown" | "code", source }]. */
export function parseSource(text) {
  const cells = [];
  let prose = [];
  let code = null;
  const flushProse = () => {
    const s = prose.join("\n").trim();
    if (s) cells.push({ type: "markdown", source: s });
    prose = [];
  };
  for (const line of text.split("\n")) {
    if (code === null && /^```ts\s*$/.test(line)) {
      flushProse();
      code = [];
    } else if (code !== null && /^```\s*$/.test(line)) {
      cells.push({ type: "code", source: code.join("\n").trim() });
      code = null;
    } else if (code !== null) code.push(line);
    else prose.push(line);
  }
  if (code !== null) throw new Error("build.mjs: a ```ts fence is not closed");
  flushProse();
  return cells;
}

const lines = (s) => s.split("\n").map((l, i, a) => (i < a.length - 1 ? `${l}\n` : l));
const joined = (src) => (Array.isArray(src) ? src.join("") : src);

export function buildNotebook(name, cells, previous) {
  const old = previous?.cells ?? [];
  return {
    cells: cells.map((c, i) => {
      const id = `${name.slice(0, 40)}-${i}`.replace(/[^A-Za-z0-9_-]/g, "-");
      if (c.type === "markdown") return { cell_type: "markdown", id, metadata: {}, source: lines(c.source) };
      const kept = old.find((o) => o.cell_type === "code" && joined(o.source) === c.source);
      return {
        cell_type: "code",
        execution_count: kept?.execution_count ?? null,
        id,
        metadata: {},
        outputs: kept?.outputs ?? [],
        source: lines(c.source),
      };
    }),
    metadata: {
      kernelspec: KERNELSPEC,
      language_info: { name: "typescript", file_extension: ".ts", mimetype: "text/typescript" },
      ...(previous?.metadata?.widgets ? { widgets: previous.metadata.widgets } : {}),
    },
    nbformat: 4,
    nbformat_minor: 5,
  };
}

function sources(prefix) {
  return fs
    .readdirSync(srcDir)
    .filter((f) => f.endsWith(".md") && !f.startsWith("_") && f.startsWith(prefix ?? ""))
    .sort();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === path.resolve(process.argv[1])) {
  const args = process.argv.slice(2);
  if (args[0] === "--script") {
    const [file] = sources(args[1]);
    if (!file) throw new Error(`build.mjs: no source starts with "${args[1]}"; have: ${sources().join(", ")}`);
    const cells = parseSource(fs.readFileSync(path.join(srcDir, file), "utf8"));
    process.stdout.write(
      cells
        .filter((c) => c.type === "code")
        .map((c) => c.source)
        .join("\n\n") + "\n",
    );
  } else {
    for (const file of sources(args[0])) {
      const name = file.replace(/\.md$/, "");
      const out = path.join(here, `${name}.ipynb`);
      const previous = fs.existsSync(out) ? JSON.parse(fs.readFileSync(out, "utf8")) : undefined;
      const nb = buildNotebook(name, parseSource(fs.readFileSync(path.join(srcDir, file), "utf8")), previous);
      fs.writeFileSync(out, JSON.stringify(nb, null, 1) + "\n");
      console.log(`wrote ${path.relative(process.cwd(), out)} (${nb.cells.length} cells)`);
    }
  }
}
