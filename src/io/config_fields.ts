/**
 * Configs as tables: each field is written once, with its doc comment, default and check, like a
 * Python dataclass with help text. The camelCase name is the TypeScript field; the snake_case name
 * on disk (config.json, adapter_config.json) follows mechanically, so Hugging Face's and PEFT's
 * files and keyword names (`lora_alpha`, `n_embd`) are read and accepted as they are.
 */

/** A check returns what is wrong with the value ("must be a positive integer"), or nothing. */
export type Check<T> = (value: T) => string | undefined;

export interface FieldSpec<T> {
  readonly default: T;
  readonly check?: Check<T>;
}

/**
 * One config field: its default and an optional check (run on every value, defaults included).
 * Plain numbers, strings and booleans widen (1024 is a number field); give the type for others:
 * `field<number | null>(null)`, `field<LoraBias>("none")`.
 */
export function field(defaultValue: number, check?: Check<number>): FieldSpec<number>;
export function field(defaultValue: string, check?: Check<string>): FieldSpec<string>;
export function field(defaultValue: boolean, check?: Check<boolean>): FieldSpec<boolean>;
export function field<T>(defaultValue: T, check?: Check<T>): FieldSpec<T>;
export function field<T>(defaultValue: T, check?: Check<T>): FieldSpec<T> {
  return { default: defaultValue, check };
}

export type FieldTable = Record<string, FieldSpec<any>>;

/** The value types of a field table (doc comments carry over to the fields). */
export type FieldsOf<T extends FieldTable> = { -readonly [K in keyof T]: T[K] extends FieldSpec<infer V> ? V : never };

/** "layersToTransform" -> "layers_to_transform", "dKv" -> "d_kv". */
export function snakeCase(camel: string): string {
  return camel.replace(/[A-Z]/g, (c) => `_${c.toLowerCase()}`);
}

// Checks shared by the configs.
export const positiveInt: Check<number> = (v) =>
  Number.isInteger(v) && v > 0 ? undefined : `must be a positive integer, got ${JSON.stringify(v)}`;
export const probability: Check<number> = (v) => (v >= 0 && v < 1 ? undefined : `must be a probability in [0, 1), got ${v}`);
export const positive: Check<number> = (v) => (v > 0 ? undefined : `must be > 0, got ${v}`);
export const nullOr =
  <T>(check: Check<T>): Check<T | null> =>
  (v) =>
    v === null ? undefined : check(v);
export const oneOf =
  <T>(...allowed: T[]): Check<T> =>
  (v) => {
    if (allowed.includes(v)) return undefined;
    const names = allowed.map((a) => (a === undefined ? "undefined" : JSON.stringify(a)));
    return `must be ${names.slice(0, -1).join(", ")} or ${names.at(-1)}, got ${JSON.stringify(v)}`;
  };

export interface ConfigSchemaOptions {
  /** Prefix of every error, e.g. "GPT2Config". */
  owner: string;
  /** Keys a constructor accepts and ignores, because they are fixed by the class (modelType, peftType). */
  fixed?: string[];
}

/** The table of one config class, and what follows from it: JSON names, parsing, writing. */
export class ConfigSchema<T extends FieldTable> {
  readonly owner: string;
  /** camelCase field -> snake_case JSON key. */
  readonly jsonKeys: Readonly<Record<keyof T & string, string>>;
  private readonly fromSnake: Map<string, string>;
  private readonly fixed: Set<string>;

  constructor(
    readonly table: T,
    options: ConfigSchemaOptions,
  ) {
    this.owner = options.owner;
    this.fixed = new Set(options.fixed ?? []);
    this.jsonKeys = Object.fromEntries(Object.keys(table).map((k) => [k, snakeCase(k)])) as Record<keyof T & string, string>;
    this.fromSnake = new Map(Object.entries(this.jsonKeys).map(([camel, snake]) => [snake, camel]));
  }

  get fieldNames(): string[] {
    return Object.keys(this.table);
  }

  /**
   * Defaults overlaid with `input`, checked field by field. Input keys may be camelCase or the
   * snake_case names of Hugging Face / PEFT; undefined values mean "the default".
   */
  resolve(input: Record<string, unknown>): FieldsOf<T> {
    const given: Record<string, unknown> = {};
    const unknown: string[] = [];
    for (const [key, value] of Object.entries(input)) {
      if (this.fixed.has(key) || this.fixed.has(this.fromSnake.get(key) ?? "")) continue;
      const name = key in this.table ? key : this.fromSnake.get(key);
      if (name === undefined) unknown.push(key);
      else if (value === undefined) continue;
      else if (name in given)
        throw new Error(`${this.owner}: ${name} is given twice (as ${name} and ${this.jsonKeys[name]}); give it once`);
      else given[name] = value;
    }
    if (unknown.length) throw new Error(`${this.owner}: unknown field(s) ${unknown.join(", ")}; known: ${this.fieldNames.join(", ")}`);
    const out: Record<string, unknown> = {};
    for (const [name, spec] of Object.entries(this.table)) {
      const value = name in given ? given[name] : cloneDefault(spec.default);
      const problem = spec.check?.(value);
      // A problem may start with an index into the value: `["q"] must be ...`.
      if (problem) throw new Error(`${this.owner}.${name}${problem.startsWith("[") ? "" : " "}${problem}`);
      out[name] = value;
    }
    return out as FieldsOf<T>;
  }

  /** The fields a JSON file sets (snake_case keys); keys of other fields, and nulls where `skipNull`, are left out. */
  readJSON(json: Record<string, unknown>, { skipNull = false } = {}): Partial<FieldsOf<T>> {
    const fields: Record<string, unknown> = {};
    for (const [camel, snake] of Object.entries(this.jsonKeys)) {
      const v = json[snake];
      if (v !== undefined && !(skipNull && v === null)) fields[camel] = v;
    }
    return fields as Partial<FieldsOf<T>>;
  }

  /** snake_case JSON of `values`' fields, in table order; undefined is written as null. */
  writeJSON(values: object): Record<string, unknown> {
    const self = values as Record<string, unknown>;
    return Object.fromEntries(Object.entries(this.jsonKeys).map(([camel, snake]) => [snake, self[camel] ?? null]));
  }

  /** The camelCase fields of `values`, e.g. to spread into a changed copy. */
  fieldsOf(values: object): FieldsOf<T> {
    const self = values as Record<string, unknown>;
    return Object.fromEntries(this.fieldNames.map((k) => [k, self[k]])) as FieldsOf<T>;
  }
}

// Object defaults ({} for rank_pattern) must not be shared between instances.
function cloneDefault<V>(v: V): V {
  return v !== null && typeof v === "object" ? structuredClone(v) : v;
}

/** A named shape looked up in a preset table, with a clear error listing the names. */
export function presetFields<F>(presets: Record<string, F>, name: string, what: string): F {
  const preset = presets[name];
  if (!preset) throw new Error(`unknown ${what} preset "${name}"; available: ${Object.keys(presets).join(", ")}`);
  return preset;
}
