/**
 * Command-line options as a table: each option written once with its kind, help text and default;
 * the usage lines and the parsing both come from it, and every rejected value names its option.
 */
import { parseArgs } from "node:util";

type Parser<T> = (value: string, name: string) => T;

const number =
  (ok: (n: number) => boolean, what: string): Parser<number> =>
  (value, name) => {
    const n = Number(value);
    if (value.trim() === "" || !ok(n)) throw new Error(`--${name} must be ${what}, got "${value}"`);
    return n;
  };

/** How an option's text becomes a value. */
export const KINDS = {
  positiveInt: number((n) => Number.isInteger(n) && n > 0, "a positive integer"),
  integer: number(Number.isInteger, "an integer"),
  positiveNumber: number((n) => n > 0, "a positive number"),
  nonNegativeNumber: number((n) => n >= 0 && Number.isFinite(n), "a number >= 0"),
  string: ((value) => value) as Parser<string>,
  list: ((value) =>
    value
      .split(",")
      .map((s) => s.trim())
      .filter(Boolean)) as Parser<string[]>,
};
type Kind = keyof typeof KINDS;
type ValueOf<K extends Kind> = ReturnType<(typeof KINDS)[K]>;

export interface OptionSpec<K extends Kind = Kind> {
  kind: K | "flag";
  /** What the value is, shown as `--name <placeholder>`. */
  placeholder?: string;
  help: string;
  default?: ValueOf<K>;
  /** The default as the help shows it, where it is computed (e.g. "checkpoints/<size>"). */
  defaultText?: string;
}

type Values<T extends Record<string, OptionSpec>> = {
  [N in keyof T]: T[N]["kind"] extends Kind
    ? T[N] extends { default: unknown }
      ? ValueOf<T[N]["kind"]>
      : ValueOf<T[N]["kind"]> | undefined
    : boolean;
};

/** An option table (kept as literal types, so parsed values are typed). */
export function options<T extends Record<string, OptionSpec>>(specs: T): T {
  return specs;
}

const INDENT = " ".repeat(13);
const COLUMN = 23;

/** The usage lines of `specs`: `--name <x>  help (default ...)`; a "\n" in the help starts an aligned line. */
export function optionsUsage(specs: Record<string, OptionSpec>): string {
  return Object.entries(specs)
    .map(([name, spec]) => {
      const flag = spec.kind === "flag" ? `--${name}` : `--${name} <${spec.placeholder ?? "x"}>`;
      const shown = spec.defaultText ?? (spec.default === undefined ? undefined : String(spec.default));
      const help = shown === undefined ? spec.help : `${spec.help}${spec.help.endsWith("\n") ? "" : " "}(default ${shown})`;
      const [first, ...more] = help.split("\n");
      return [`${INDENT}${flag.padEnd(COLUMN)}${first}`, ...more.map((l) => `${INDENT}${" ".repeat(COLUMN)}${l}`)].join("\n");
    })
    .join("\n");
}

/** Parses `args` strictly (an unknown option is an error) into typed values with defaults filled in. */
export function parseOptions<T extends Record<string, OptionSpec>>(specs: T, args: string[]): Values<T> {
  const config = Object.fromEntries(Object.entries(specs).map(([name, s]) => [name, { type: s.kind === "flag" ? "boolean" : "string" }]));
  const { values } = parseArgs({ args, options: config as Record<string, { type: "string" | "boolean" }>, strict: true });
  const out: Record<string, unknown> = {};
  for (const [name, spec] of Object.entries(specs)) {
    const given = values[name];
    if (spec.kind === "flag") out[name] = given === true;
    else out[name] = given === undefined ? spec.default : KINDS[spec.kind](given as string, name);
  }
  return out as Values<T>;
}
