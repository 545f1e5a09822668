/**
 * The names of the functions a cell of TypeScript defines: `function name(`, and a `const` or
 * `let` bound to an arrow function or a function expression. Enough for notebook cells, which
 * define helpers at the top level; not a parser.
 */
export function definedFunctions(source: string): string[] {
  const names: string[] = [];
  for (const m of source.matchAll(/^\s*(?:export\s+)?(?:async\s+)?function\s*\*?\s*([A-Za-z_$][\w$]*)/gm)) names.push(m[1]);
  // `const f = (a: T) =>`, `const f = async (x) =>`, `const f = x =>`, `const f = function`
  const binding =
    /^\s*(?:const|let|var)\s+([A-Za-z_$][\w$]*)\s*(?::[^=]+)?=\s*(?:async\s+)?(?:function\b|\([^)]*\)\s*(?::[^=]+)?=>|[A-Za-z_$][\w$]*\s*=>)/gm;
  for (const m of source.matchAll(binding)) names.push(m[1]);
  return names;
}
