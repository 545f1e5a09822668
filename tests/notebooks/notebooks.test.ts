/**
 * Executes every notebook in notebooks/ with nbconvert on the lora-lab kernel (installed into a
 * temporary prefix), as a user's Jupyter would, and fails on any cell error. Then re-runs every
 * notebook with a verdict at another seed and fewer steps (LORA_LAB_SEED=1, LORA_LAB_STEPS: the
 * notebooks' own parameters, read from the environment): each must still pass and recompute its
 * verdict, whose numbers must change, which they could not if the verdict were typed in. Needs
 * `npm run build` and Debian's Jupyter packages.
 */
import { mkdtempSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { installKernel, ROOT, runNotebook, type InstalledKernel } from "../kernel/harness.js";

const NOTEBOOKS = readdirSync(join(ROOT, "notebooks"))
  .filter((f) => f.endsWith(".ipynb"))
  .sort();
/** Notebooks that end in a verdict (00 is the quick start). */
const VERDICT_NOTEBOOKS = NOTEBOOKS.filter((f) => !f.startsWith("00-"));
/** Notebooks whose verdict numbers do not depend on the seed, and why: their re-run must give the same numbers. */
const SEED_INDEPENDENT: Record<string, string> = {
  "10-python-peft-equivalents.ipynb": "key counts, config fields and a reload gap of 0: the same at every seed",
};
/**
 * Optimizer steps per run in the second-seed re-run, instead of the notebooks' 96-160: a re-run then
 * takes about 45% of the first run's CPU time (kernel start, data and baseline evaluation remain).
 */
const QUICK_STEPS = "24";
const TIMEOUT_S = 600;

interface Output {
  output_type: string;
  name?: string;
  text?: string;
  data?: Record<string, unknown>;
}
interface Cell {
  cell_type: string;
  source: string;
  execution_count: number | null;
  outputs: Output[];
}

/** The stdout of the notebook's verdict cell (the code cell starting with "// Verdict"). */
function verdictText(notebook: { cells: Cell[] }): string {
  const cell = notebook.cells.find((c) => c.cell_type === "code" && c.source.startsWith("// Verdict"));
  if (!cell) throw new Error("the notebook has no verdict cell (a code cell starting with // Verdict)");
  return cell.outputs
    .filter((o) => o.output_type === "stream" && o.name === "stdout")
    .map((o) => o.text)
    .join("");
}

/** The verdict's first line as every notebook prints it, at a given seed. */
const verdictLine = (seed: number) =>
  new RegExp(`^Verdict on .+: (SUPPORTED|PARTLY SUPPORTED|NOT SUPPORTED) at this scale \\(\\d+ of \\d+ checks hold; seed ${seed}\\)\\n`);

/** The measured numbers in a verdict (the seed itself left out). */
function measuredNumbers(verdict: string): string[] {
  return verdict.replace(/seed \d+/g, "").match(/-?\d+(?:,\d{3})*(?:\.\d+)?(?:e[-+]\d+)?/g) ?? [];
}

let kernel: InstalledKernel;
const withEnv = (env: Record<string, string>): InstalledKernel => ({ ...kernel, env: { ...kernel.env, ...env } });
const executed = new Map<string, { cells: Cell[] }>();

beforeAll(() => {
  kernel = installKernel(mkdtempSync(join(tmpdir(), "lora-lab-notebooks-")));
});

describe("nbconvert --execute on every notebook", () => {
  it.each(NOTEBOOKS)(
    "%s runs top to bottom on the lora-lab kernel without an error",
    async (file) => {
      const { notebook } = await runNotebook(join("notebooks", file), withEnv({ LORA_LAB_SEED: "0" }), { timeoutS: TIMEOUT_S });
      const code = (notebook.cells as Cell[]).filter((c) => c.cell_type === "code");
      expect(code.length).toBeGreaterThan(0);
      expect(code.filter((c) => c.execution_count === null).map((c) => c.source.slice(0, 60))).toEqual([]);
      expect(code.flatMap((c) => c.outputs.filter((o) => o.output_type === "error"))).toEqual([]);
      if (VERDICT_NOTEBOOKS.includes(file)) expect(verdictText(notebook)).toMatch(verdictLine(0));
      executed.set(file, notebook);
    },
    (TIMEOUT_S + 150) * 1000,
  );
});

describe("verdicts come from the run", () => {
  it.each(VERDICT_NOTEBOOKS)(
    `%s re-run with LORA_LAB_SEED=1 and LORA_LAB_STEPS=${QUICK_STEPS} still passes and recomputes its verdict (its numbers change, where they depend on the seed)`,
    async (file) => {
      const seed0 =
        executed.get(file) ??
        (await runNotebook(join("notebooks", file), withEnv({ LORA_LAB_SEED: "0" }), { timeoutS: TIMEOUT_S })).notebook;
      const quick = withEnv({ LORA_LAB_SEED: "1", LORA_LAB_STEPS: QUICK_STEPS });
      const { notebook: seed1 } = await runNotebook(join("notebooks", file), quick, { timeoutS: TIMEOUT_S });
      const [v0, v1] = [verdictText(seed0), verdictText(seed1)];
      expect(v1).toMatch(verdictLine(1));
      expect(measuredNumbers(v0).length).toBeGreaterThan(3);
      expect(measuredNumbers(v1).length).toBe(measuredNumbers(v0).length);
      if (SEED_INDEPENDENT[file]) expect(measuredNumbers(v1)).toEqual(measuredNumbers(v0));
      else expect(measuredNumbers(v1)).not.toEqual(measuredNumbers(v0));
    },
    (2 * TIMEOUT_S + 300) * 1000,
  );
});
