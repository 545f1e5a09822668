// Helpers shared by every notebook: a plain-text table, and the verdict line computed from checks.
function printTable(head: string[], rows: string[][]): void {
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(width[i]) : c.padStart(width[i]))).join("  ");
  console.log([line(head), width.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n"));
}

interface Check {
  /** What the claim predicts, in words. */
  what: string;
  ok: boolean;
  /** The measured numbers behind it. */
  numbers: string;
}

/** The verdict line: every check holds -> supported; none -> not supported; else partly. */
function verdict(claim: string, checks: Check[]): void {
  const held = checks.filter((c) => c.ok).length;
  const word = held === checks.length ? "SUPPORTED" : held === 0 ? "NOT SUPPORTED" : "PARTLY SUPPORTED";
  console.log(`Verdict on ${claim}: ${word} at this scale (${held} of ${checks.length} checks hold; seed ${SEED})`);
  for (const c of checks) console.log(`  [${c.ok ? "holds" : "fails"}] ${c.what}: ${c.numbers}`);
}
const f3 = (x: number) => x.toFixed(3);
const maxAbsDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
};
