import { execFile, execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { promisify } from "node:util";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";

const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const PRETTIER = join(ROOT, "node_modules", "prettier", "bin", "prettier.cjs");

/** The files `prettier --list-different` names (what `npm run format` would rewrite). */
async function unformatted(args: string[]): Promise<string[]> {
  try {
    await promisify(execFile)(process.execPath, [PRETTIER, "--list-different", ...args], { cwd: ROOT, maxBuffer: 16 << 20 });
    return [];
  } catch (err) {
    const e = err as { code?: number; stdout?: string; stderr?: string };
    // Exit 1: some files differ (listed on stdout); anything else is prettier failing to run.
    if (e.code !== 1 || e.stderr) throw new Error(`prettier failed (exit ${e.code}): ${e.stderr || String(err)}`);
    return (e.stdout ?? "").split("\n").filter(Boolean);
  }
}

describe("npm run format:check", () => {
  it("every file Prettier covers is formatted (run `npm run format` to fix the ones listed)", async () => {
    const files = await unformatted(["."]);
    expect(files, `not formatted (npm run format):\n  ${files.join("\n  ")}\n`).toEqual([]);
  }, 300_000); // the whole tree: about 30 s on two busy cores

  it("names a file that is not formatted, and keeps lines up to the configured 140 columns", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lora-lab-format-"));
    const messy = join(dir, "messy.ts");
    writeFileSync(messy, "const  x = {a:1}\n");
    expect((await unformatted([messy])).map((f) => resolve(ROOT, f))).toEqual([messy]);
    // Formatted as if it sat in the repository, so .prettierrc applies: a 137-column call stays on one line, a 147-column one does not.
    const call = (n: number) => `f(${Array(n).fill('"a"').join(", ")});\n`; // 5n + 2 columns
    const format = (code: string) =>
      execFileSync(process.execPath, [PRETTIER, "--stdin-filepath", "src/example.ts"], { cwd: ROOT, input: code }).toString();
    const short = call(27); // 137 columns
    expect(format(short)).toBe(short);
    expect(format(call(29)).split("\n").length).toBeGreaterThan(3); // 147 columns: one argument a line
  });
});
