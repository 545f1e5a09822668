/**
 * Checks that a notebook's verdict cell computes its verdict: the cell's TypeScript is parsed with
 * the TypeScript compiler API, and two kinds of typed-in result are reported.
 *
 * - In the text of string and template literals (not what `${...}` computes; comments are not
 *   literals): a verdict word anywhere, and a number anywhere but in what the article predicts (the
 *   first argument of verdict() / study.printVerdict(), each check's `what`, which may quote the
 *   article: "layers 1-6").
 * - In code: a `true` / `false` literal anywhere, and a constant expression (one no measured
 *   variable flows into, such as `0.31`, `1 > 0`, `String(0.31)`, `study.above(0.5, 0)`) as a
 *   check's `ok` or `numbers`, inside `${...}`, or added to a string.
 */
import ts from "typescript";

/** Words a verdict would carry if it were typed in rather than computed. */
export const VERDICT_WORDS = /\b(supported|unsupported|not supported|partly|confirmed|refuted|holds|fails|true|false)\b/i;

/** A number standing alone ("0.31", "12,288"), not part of a name ("GPT-2", "NF4", "124M", "h.0"). */
const NUMBER = /(?<![\w.\-])\d[\d,]*(?:\.\d+)?(?![\w\-])/;

/** Names whose members are constants or pure functions of their arguments (`Math.PI`, `lab.formatCount(x)`). */
const PURE_NAMESPACES = new Set(["Math", "Number", "String", "JSON", "lab"]);
/** Pure functions reached through a data object: `study.above(a, b)` is constant when a and b are. */
const PURE_METHODS = new Set(["study.above", "study.below"]);
const CONSTANT_NAMES = new Set(["undefined", "NaN", "Infinity"]);

function parse(source: string): ts.SourceFile {
  return ts.createSourceFile("verdict.ts", source, ts.ScriptTarget.Latest, true, ts.ScriptKind.TS);
}

/** The text of a string or template piece, if the node is one. */
function literalPiece(node: ts.Node): string | undefined {
  if (ts.isStringLiteral(node) || ts.isNoSubstitutionTemplateLiteral(node)) return node.text;
  if (ts.isTemplateHead(node) || ts.isTemplateMiddle(node) || ts.isTemplateTail(node)) return node.text;
  return undefined;
}

function each(node: ts.Node, visit: (n: ts.Node) => void): void {
  visit(node);
  node.forEachChild((c) => each(c, visit));
}

/** The literal text in a cell: string contents and the fixed parts of templates, in source order. */
export function literalText(source: string): string[] {
  const out: string[] = [];
  each(parse(source), (n) => {
    const text = literalPiece(n);
    if (text) out.push(text);
  });
  return out;
}

/** Whether no variable flows into the expression: its value is fixed by the source alone. */
export function isConstant(e: ts.Expression): boolean {
  if (ts.isNumericLiteral(e) || ts.isBigIntLiteral(e) || ts.isStringLiteral(e) || ts.isNoSubstitutionTemplateLiteral(e)) return true;
  if (e.kind === ts.SyntaxKind.TrueKeyword || e.kind === ts.SyntaxKind.FalseKeyword || e.kind === ts.SyntaxKind.NullKeyword) return true;
  if (ts.isIdentifier(e)) return CONSTANT_NAMES.has(e.text);
  if (ts.isTemplateExpression(e)) return e.templateSpans.every((s) => isConstant(s.expression));
  if (ts.isParenthesizedExpression(e) || ts.isAsExpression(e) || ts.isNonNullExpression(e) || ts.isSatisfiesExpression(e))
    return isConstant(e.expression);
  if (ts.isPrefixUnaryExpression(e)) return isConstant(e.operand);
  if (ts.isBinaryExpression(e)) return isConstant(e.left) && isConstant(e.right);
  if (ts.isConditionalExpression(e)) return isConstant(e.condition) && isConstant(e.whenTrue) && isConstant(e.whenFalse);
  if (ts.isArrayLiteralExpression(e)) return e.elements.every((x) => !ts.isSpreadElement(x) && isConstant(x));
  if (ts.isObjectLiteralExpression(e)) return e.properties.every((p) => ts.isPropertyAssignment(p) && isConstant(p.initializer));
  if (ts.isPropertyAccessExpression(e))
    return (ts.isIdentifier(e.expression) && PURE_NAMESPACES.has(e.expression.text)) || isConstant(e.expression);
  if (ts.isElementAccessExpression(e)) return isConstant(e.expression) && isConstant(e.argumentExpression);
  if (ts.isCallExpression(e)) {
    if (e.arguments.length === 0 || !e.arguments.every((a) => !ts.isSpreadElement(a) && isConstant(a))) return false;
    const callee = e.expression;
    if (ts.isIdentifier(callee)) return true; // String(0.31), f(1, 2)
    if (ts.isPropertyAccessExpression(callee)) {
      const receiver = callee.expression;
      if (ts.isIdentifier(receiver) && (PURE_NAMESPACES.has(receiver.text) || PURE_METHODS.has(`${receiver.text}.${callee.name.text}`)))
        return true;
      return isConstant(receiver); // (0.31).toFixed(3)
    }
    return false;
  }
  return false;
}

/** The name a property assignment or call is known by: `ok`, `printVerdict`, ... */
const nameOf = (n: ts.PropertyName | ts.Expression): string | undefined =>
  ts.isIdentifier(n) || ts.isStringLiteral(n) ? n.text : ts.isPropertyAccessExpression(n) ? n.name.text : undefined;

/** Literal nodes that state the article's prediction, where numbers may stand. */
function predictionNodes(file: ts.SourceFile): Set<ts.Node> {
  const out = new Set<ts.Node>();
  each(file, (n) => {
    if (ts.isCallExpression(n) && ["verdict", "printVerdict"].includes(nameOf(n.expression) ?? "") && n.arguments[0])
      out.add(n.arguments[0]);
    if (ts.isPropertyAssignment(n) && nameOf(n.name) === "what") out.add(n.initializer);
  });
  const inside = new Set<ts.Node>();
  for (const root of out) each(root, (n) => inside.add(n));
  return inside;
}

const lineOf = (file: ts.SourceFile, n: ts.Node) => file.getLineAndCharacterOfPosition(n.getStart(file)).line + 1;

/** Problems with one verdict cell's source, each naming the line and the text at fault. */
export function literalVerdictProblems(source: string): string[] {
  const file = parse(source);
  const problems: string[] = [];
  const predictions = predictionNodes(file);
  const constantAt = (e: ts.Expression, where: string) => {
    if (isConstant(e)) problems.push(`constant ${where} ${e.getText(file)} (line ${lineOf(file, e)})`);
  };
  each(file, (n) => {
    const text = literalPiece(n);
    if (text !== undefined) {
      if (VERDICT_WORDS.test(text)) problems.push(`literal verdict word in ${JSON.stringify(text)}`);
      if (!predictions.has(n) && NUMBER.test(text)) problems.push(`literal number in ${JSON.stringify(text)}`);
    }
    if (n.kind === ts.SyntaxKind.TrueKeyword || n.kind === ts.SyntaxKind.FalseKeyword)
      problems.push(`literal ${n.getText(file)} in code (line ${lineOf(file, n)})`);
    if (ts.isPropertyAssignment(n) && ["ok", "numbers"].includes(nameOf(n.name) ?? "")) constantAt(n.initializer, nameOf(n.name)!);
    if (ts.isTemplateSpan(n)) constantAt(n.expression, "${...}");
    if (ts.isBinaryExpression(n) && n.operatorToken.kind === ts.SyntaxKind.PlusToken) {
      const stringy = (e: ts.Expression) => ts.isStringLiteral(e) || ts.isTemplateExpression(e) || ts.isNoSubstitutionTemplateLiteral(e);
      // "text " + 0.31: the constant operand next to a string (string + string is only text, checked above)
      if (stringy(n.left) && !stringy(n.right)) constantAt(n.right, "added to a string:");
      if (stringy(n.right) && !stringy(n.left)) constantAt(n.left, "added to a string:");
    }
  });
  return [...new Set(problems)];
}
