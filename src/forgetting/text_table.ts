/**
 * An aligned plain-text table: the header, a rule, then the rows. The first column (a name) is
 * left-aligned and the rest (numbers) right-aligned, so that digits line up for comparing runs.
 */
export function formatTable(head: readonly string[], rows: readonly (readonly string[])[]): string {
  const bad = rows.findIndex((r) => r.length !== head.length);
  if (bad >= 0) {
    throw new Error(`formatTable: row ${bad} has ${rows[bad].length} cells; expected ${head.length}, one per column (${head.join(", ")})`);
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join("  ");
  return [line(head), widths.map((w) => "-".repeat(w)).join("  "), ...rows.map(line)].join("\n");
}

/** A count with thousands separators ("834,304"), the same on every machine's locale. */
export const formatCount = (n: number): string => n.toLocaleString("en-US");
