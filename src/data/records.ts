import { mixSeed, mulberry32, permutation } from "./random.js";

/** One example as read from a file: a JSON object, a CSV row (header -> cell) or `{ text }`. */
export type DataRecord = Record<string, unknown>;

/** Where a record came from, so later errors (a missing column, a bad message) can name it. */
export interface RecordSource {
  file: string;
  /** 1-based line where the record starts (for a whole-file record, 1). */
  line: number;
}

/** A record left out, and why: every skip is reported, none is silent. */
export interface SkippedRecord extends RecordSource {
  reason: string;
}

/** What was left out while loading or preparing data: the count and the first reasons. */
export interface SkipReport {
  count: number;
  /** The first `SKIP_DETAILS` skips with file, line and reason (the count covers them all). */
  examples: SkippedRecord[];
  /** Files in a folder that no loader reads (unknown extension), by path. */
  ignoredFiles: string[];
}

export const SKIP_DETAILS = 20;

export function emptySkipReport(): SkipReport {
  return { count: 0, examples: [], ignoredFiles: [] };
}

export function recordSkip(report: SkipReport, skip: SkippedRecord): void {
  report.count++;
  if (report.examples.length < SKIP_DETAILS) report.examples.push(skip);
}

/**
 * Bad data: the message names the file, the line and the field at fault, and the same facts are
 * fields for code that wants to react (e.g. a notebook showing the offending line).
 */
export class DataError extends Error {
  constructor(
    message: string,
    readonly file?: string,
    readonly line?: number,
    readonly field?: string,
  ) {
    super(`${file !== undefined ? `${file}${line !== undefined ? `:${line}` : ""}: ` : ""}${message}`);
    this.name = "DataError";
  }
}

export function dataError(source: RecordSource | undefined, message: string, field?: string): DataError {
  return new DataError(message, source?.file, source?.line, field);
}

export interface TrainTestSplitOptions {
  /** Share of records for the test side, in (0, 1), or a count (an integer >= 1). Default 0.1. */
  testSize?: number;
  seed?: number;
  /** Shuffle before splitting (default), as datasets' train_test_split. */
  shuffle?: boolean;
}

/**
 * Records in memory with where each came from, as Hugging Face datasets' `Dataset` (a list of
 * rows, not Arrow columns): seeded `shuffle`, `trainTestSplit`, `select`, and `column` that names
 * the file and line of a record lacking the field.
 */
export class Dataset implements Iterable<DataRecord> {
  constructor(
    readonly records: readonly DataRecord[],
    readonly sources: readonly RecordSource[],
    readonly skipped: SkipReport = emptySkipReport(),
  ) {
    if (records.length !== sources.length) {
      throw new RangeError(`Dataset: ${records.length} records but ${sources.length} sources; one source per record`);
    }
  }

  /** An in-memory dataset, each record's source "<memory>" at its 1-based index. */
  static fromRecords(records: readonly DataRecord[], name = "<memory>"): Dataset {
    return new Dataset(
      records,
      records.map((_, i) => ({ file: name, line: i + 1 })),
    );
  }

  get length(): number {
    return this.records.length;
  }

  [Symbol.iterator](): Iterator<DataRecord> {
    return this.records[Symbol.iterator]();
  }

  /** The field names of the first record (CSV header order, JSON key order). */
  get columnNames(): string[] {
    return this.records.length > 0 ? Object.keys(this.records[0]!) : [];
  }

  /** The records at `indices`, in that order. */
  select(indices: readonly number[]): Dataset {
    indices.forEach((i, k) => {
      if (!Number.isInteger(i) || i < 0 || i >= this.length)
        throw new RangeError(`Dataset.select: index ${i} (position ${k}) is outside [0, ${this.length})`);
    });
    return new Dataset(
      indices.map((i) => this.records[i]!),
      indices.map((i) => this.sources[i]!),
      this.skipped,
    );
  }

  /** A seeded permutation of the records: the same seed gives the same order on every platform. */
  shuffle(seed = 0): Dataset {
    return this.select(permutation(this.length, mulberry32(mixSeed(seed))));
  }

  /**
   * Two disjoint datasets, as datasets' `train_test_split`: `testSize` records (a fraction is
   * rounded, and clamped so both sides keep one record) go to `test`, after a seeded shuffle.
   */
  trainTestSplit(options: TrainTestSplitOptions = {}): { train: Dataset; test: Dataset } {
    const { testSize = 0.1, seed = 0, shuffle = true } = options;
    const n = this.length;
    if (n < 2) throw new RangeError(`Dataset.trainTestSplit: ${n} record(s); a split needs at least 2`);
    let count: number;
    if (testSize > 0 && testSize < 1) count = Math.min(n - 1, Math.max(1, Math.round(n * testSize)));
    else if (Number.isInteger(testSize) && testSize >= 1 && testSize < n) count = testSize;
    else throw new RangeError(`Dataset.trainTestSplit: testSize must be a fraction in (0, 1) or a count in [1, ${n}); got ${testSize}`);
    const order = shuffle ? permutation(n, mulberry32(mixSeed(seed))) : Array.from({ length: n }, (_, i) => i);
    return { train: this.select(order.slice(count)), test: this.select(order.slice(0, count)) };
  }

  /** The field `name` of every record; a record without it is an error naming its file and line. */
  column(name: string): unknown[] {
    return this.records.map((r, i) => requireField(r, name, this.sources[i]));
  }

  /** The string field `name` of every record (a number or boolean is an error, as a missing field). */
  textColumn(name: string): string[] {
    return this.records.map((r, i) => requireText(r, name, this.sources[i]));
  }
}

/** `record[name]`, or a DataError naming the file, line and the fields the record has. */
export function requireField(record: DataRecord, name: string, source: RecordSource | undefined): unknown {
  if (!(name in record) || record[name] === undefined || record[name] === null) {
    const has = Object.keys(record);
    throw dataError(
      source,
      `record has no field "${name}"${record[name] === null ? " (it is null)" : ""}; fields present: ${has.length ? has.map((k) => `"${k}"`).join(", ") : "(none)"}`,
      name,
    );
  }
  return record[name];
}

export function requireText(record: DataRecord, name: string, source: RecordSource | undefined): string {
  const value = requireField(record, name, source);
  if (typeof value !== "string") {
    throw dataError(source, `field "${name}" is ${describe(value)}; expected a string`, name);
  }
  return value;
}

export function describe(value: unknown): string {
  if (Array.isArray(value)) return `an array of ${value.length}`;
  if (value === null) return "null";
  if (typeof value === "object") return "an object";
  return `${typeof value} ${JSON.stringify(value)}`.slice(0, 80);
}
