/**
 * Reads a verdict cell's TypeScript source and returns the literal text in it: the contents of
 * '...' and "..." strings and the fixed parts of `...` templates (not what ${...} computes).
 * Comments are skipped. The notebooks' verdicts must come from variables, so this text may hold
 * neither a verdict word nor a number.
 */
export function literalText(source: string): string[] {
  const out: string[] = [];
  let i = 0;
  const n = source.length;
  // Scans code until `stop` (a closing brace of a template expression) at depth 0.
  function code(stopAtBrace: boolean): void {
    let depth = 0;
    while (i < n) {
      const c = source[i];
      if (c === "/" && source[i + 1] === "/") {
        while (i < n && source[i] !== "\n") i++;
      } else if (c === "/" && source[i + 1] === "*") {
        const end = source.indexOf("*/", i + 2);
        i = end < 0 ? n : end + 2;
      } else if (c === "'" || c === '"') {
        i++;
        let s = "";
        while (i < n && source[i] !== c) {
          if (source[i] === "\\") s += source[i++];
          s += source[i++];
        }
        i++;
        out.push(s);
      } else if (c === "`") {
        i++;
        template();
      } else if (c === "{") {
        depth++;
        i++;
      } else if (c === "}") {
        if (stopAtBrace && depth === 0) {
          i++;
          return;
        }
        depth--;
        i++;
      } else i++;
    }
  }
  function template(): void {
    let s = "";
    while (i < n && source[i] !== "`") {
      if (source[i] === "\\") {
        s += source[i++];
        s += source[i++];
      } else if (source[i] === "$" && source[i + 1] === "{") {
        i += 2;
        out.push(s);
        s = "";
        code(true);
      } else s += source[i++];
    }
    i++;
    out.push(s);
  }
  code(false);
  return out.filter((s) => s.length > 0);
}

/** A number standing alone ("0.31", "12,288"), not part of a name ("GPT-2", "NF4", "124M", "h.0"). */
const NUMBER = /(?<![\w.\-])\d[\d,]*(?:\.\d+)?(?![\w\-])/;

/** Words a verdict would carry if it were typed in rather than computed. */
export const VERDICT_WORDS = /\b(supported|unsupported|not supported|partly|confirmed|refuted|holds|fails|true|false)\b/i;

/**
 * Problems with one verdict cell's source: a literal verdict word anywhere, or a literal number
 * outside what the article predicts (the claim's name, the first argument of verdict() or
 * study.printVerdict(), and each
 * check's `what`, which may quote the article: "layers 1-6").
 */
export function literalVerdictProblems(source: string): string[] {
  const problems: string[] = [];
  for (const text of literalText(source)) {
    if (VERDICT_WORDS.test(text)) problems.push(`literal verdict word in ${JSON.stringify(text)}`);
  }
  const predictions = source
    .replace(/\b(verdict|printVerdict)\(\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`$]*`)/g, "$1(")
    .replace(/\bwhat:\s*("(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'|`[^`$]*`)/g, "what: null");
  for (const text of literalText(predictions)) {
    if (NUMBER.test(text)) problems.push(`literal number in ${JSON.stringify(text)}`);
  }
  return problems;
}
