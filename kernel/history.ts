/**
 * history_request over the cells this kernel ran (one session, numbered 1): "tail", "range" and
 * "search" (a glob over the whole input, `*` and `?`), with `output` and `unique` as IPython has them.
 */
export interface HistoryEntry {
  line: number;
  input: string;
  output: string | null;
}

export const HISTORY_SESSION = 1;

type Row = [number, number, string | [string, string | null]];

function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, "[\\s\\S]*")
    .replace(/\?/g, "[\\s\\S]");
  return new RegExp(`^${body}$`);
}

export function historyReply(entries: readonly HistoryEntry[], request: Record<string, any>): { status: "ok"; history: Row[] } {
  const row = (e: HistoryEntry): Row => [HISTORY_SESSION, e.line, request.output ? [e.input, e.output] : e.input];
  const n = typeof request.n === "number" && request.n > 0 ? request.n : undefined;
  let picked: readonly HistoryEntry[] = [];
  switch (request.hist_access_type) {
    case "tail":
      picked = n === undefined ? entries : entries.slice(-n);
      break;
    case "range": {
      // session 0 or negative means "this session" in IPython; we only have one.
      const start = Number(request.start ?? 0);
      const stop = request.stop == null ? Infinity : Number(request.stop);
      picked = entries.filter((e) => e.line >= start && e.line < stop);
      break;
    }
    case "search": {
      const re = globToRegExp(String(request.pattern ?? "*"));
      let found = entries.filter((e) => re.test(e.input));
      if (request.unique) {
        const seen = new Set<string>();
        // Keep the latest run of each distinct input.
        found = found
          .reverse()
          .filter((e) => !seen.has(e.input) && seen.add(e.input))
          .reverse();
      }
      picked = n === undefined ? found : found.slice(-n);
      break;
    }
  }
  return { status: "ok", history: picked.map(row) };
}
