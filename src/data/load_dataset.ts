import { extname } from "node:path";
import { Readable } from "node:stream";
import { parse as parseCsv, type CsvError } from "csv-parse";
import {
  DataError,
  Dataset,
  dataError,
  emptySkipReport,
  recordSkip,
  requireField,
  type DataRecord,
  type RecordSource,
  type SkipReport,
} from "./records.js";
import { listFiles, loadProgress, readLines, type Line } from "./text_files.js";

/** Hugging Face datasets' packaged builders: "text", "json" (JSON lines or one JSON document), "csv". */
export type DatasetFormat = "text" | "json" | "csv";

/** File extensions each format reads (a folder's other files are listed in `skipped.ignoredFiles`). */
export const FORMAT_EXTENSIONS: Record<DatasetFormat, readonly string[]> = {
  text: [".txt", ".text", ".md"],
  json: [".jsonl", ".json", ".ndjson"],
  csv: [".csv", ".tsv"],
};

export interface LoadDatasetOptions {
  /** The builder; by default each file's extension decides (see FORMAT_EXTENSIONS). */
  format?: DatasetFormat;
  /**
   * text: a record per "line" (default), per "paragraph" (blank-line separated) or per
   * "document" (a whole file), as datasets' `sample_by`. Records are `{ text }`.
   */
  sampleBy?: "line" | "paragraph" | "document";
  /** json: the key of a JSON document that holds the list of records, as datasets' `field`. */
  field?: string;
  /** csv: the cell separator. Default "," (and tab for .tsv files). */
  delimiter?: string;
  /** Fields every record must have: a record without one is an error naming file, line and field. */
  columns?: readonly string[];
  /**
   * "error" (default) stops at the first bad record (bad UTF-8, a broken JSON line, a malformed
   * CSV row, a missing column); "skip" leaves it out and counts it in `skipped`.
   */
  onBadRecord?: "error" | "skip";
  /** A progress bar on stderr; default only for loads of 16 MB or more when stderr is a terminal. */
  progress?: boolean;
}

/** A record with its origin, as `streamDataset` yields it. */
export interface SourcedRecord {
  record: DataRecord;
  source: RecordSource;
}

/**
 * The records of one or more files or folders, read as a stream: text, JSON lines and CSV are
 * read chunk by chunk, so files larger than memory can be processed record by record (a
 * whole-file `.json` document and a text file read with `sampleBy: "document"` are, by nature,
 * whole). `skipped` fills as the stream is read.
 */
export class DatasetStream implements AsyncIterable<SourcedRecord> {
  readonly skipped: SkipReport = emptySkipReport();

  constructor(
    readonly paths: readonly string[],
    readonly options: LoadDatasetOptions = {},
  ) {
    checkOptions(options);
  }

  async *[Symbol.asyncIterator](): AsyncGenerator<SourcedRecord> {
    // Each pass reports its own skips.
    Object.assign(this.skipped, emptySkipReport());
    const files: { file: string; format: DatasetFormat }[] = [];
    for (const path of this.paths) {
      const listed = await listFiles(path);
      const single = listed.length === 1 && listed[0] === path;
      for (const file of listed) {
        const format = this.options.format ?? formatOf(file);
        if (format) files.push({ file, format });
        else if (single)
          throw new DataError(`unknown file type "${extname(file)}"; pass format: "text" | "json" | "csv" (${extensionList()})`, file);
        else this.skipped.ignoredFiles.push(file);
      }
    }
    if (files.length === 0) {
      throw new DataError(
        `no readable files (${extensionList()}); ignored: ${this.skipped.ignoredFiles.join(", ")}`,
        this.paths.join(", "),
      );
    }
    const progress = await loadProgress(
      files.map((f) => f.file),
      this.options.progress,
    );
    const ctx: ReadContext = { bad: this.bad, skip: this.skip, tick: (n) => progress.tick(n) };
    try {
      for (const { file, format } of files) {
        const reader = format === "text" ? readText : format === "json" ? readJson : readCsv;
        for await (const item of reader(file, this.options, ctx)) {
          if (this.checkColumns(item)) yield item;
        }
      }
    } finally {
      progress.stop();
    }
  }

  /** Throws the error, or with onBadRecord "skip" counts it and returns. */
  private readonly bad = (error: DataError): void => {
    if (this.options.onBadRecord !== "skip") throw error;
    this.skip(error);
  };

  private readonly skip = (error: DataError): void => {
    recordSkip(this.skipped, { file: error.file ?? "", line: error.line ?? 0, reason: error.message });
  };

  private checkColumns(item: SourcedRecord): boolean {
    for (const name of this.options.columns ?? []) {
      try {
        requireField(item.record, name, item.source);
      } catch (err) {
        this.bad(err as DataError);
        return false;
      }
    }
    return true;
  }
}

/** Streams the records of `paths` (files or folders); see DatasetStream. */
export function streamDataset(paths: string | readonly string[], options: LoadDatasetOptions = {}): DatasetStream {
  return new DatasetStream(typeof paths === "string" ? [paths] : paths, options);
}

/**
 * Loads the records of files or folders into a Dataset, as datasets' `load_dataset` with
 * `data_files`: `await lab.loadDataset("qa.jsonl")`, `loadDataset("notes/", { sampleBy: "document" })`.
 * Then `.trainTestSplit({ testSize: 0.1, seed })` and `.shuffle(seed)`.
 */
export async function loadDataset(paths: string | readonly string[], options: LoadDatasetOptions = {}): Promise<Dataset> {
  const stream = streamDataset(paths, options);
  const records: DataRecord[] = [];
  const sources: RecordSource[] = [];
  for await (const { record, source } of stream) {
    records.push(record);
    sources.push(source);
  }
  return new Dataset(records, sources, stream.skipped);
}

function checkOptions(options: LoadDatasetOptions): void {
  const { format, sampleBy, onBadRecord } = options;
  if (format !== undefined && !(format in FORMAT_EXTENSIONS))
    throw new RangeError(`loadDataset: unknown format ${JSON.stringify(format)}; expected "text", "json" or "csv"`);
  if (sampleBy !== undefined && !["line", "paragraph", "document"].includes(sampleBy))
    throw new RangeError(`loadDataset: sampleBy must be "line", "paragraph" or "document"; got ${JSON.stringify(sampleBy)}`);
  if (onBadRecord !== undefined && onBadRecord !== "error" && onBadRecord !== "skip")
    throw new RangeError(`loadDataset: onBadRecord must be "error" or "skip"; got ${JSON.stringify(onBadRecord)}`);
}

function formatOf(file: string): DatasetFormat | undefined {
  const ext = extname(file).toLowerCase();
  return (Object.keys(FORMAT_EXTENSIONS) as DatasetFormat[]).find((f) => FORMAT_EXTENSIONS[f].includes(ext));
}

function extensionList(): string {
  return Object.entries(FORMAT_EXTENSIONS)
    .map(([f, exts]) => `${f}: ${exts.join(" ")}`)
    .join("; ");
}

/** What a reader reports to: `bad` throws or skips per onBadRecord; `skip` always skips (an empty line is no error). */
interface ReadContext {
  bad(error: DataError): void;
  skip(error: DataError): void;
  tick(bytes: number): void;
}

type Reader = (file: string, options: LoadDatasetOptions, ctx: ReadContext) => AsyncGenerator<SourcedRecord>;

/** Text as datasets' "text" builder: `{ text }` per line, paragraph or file; empty ones are skipped and counted. */
const readText: Reader = async function* (file, options, { bad, skip, tick }) {
  const sampleBy = options.sampleBy ?? "line";
  let block: Line[] = [];
  const flush = (): SourcedRecord | undefined => {
    const lines = block;
    block = [];
    if (lines.length === 0) return undefined;
    return { record: { text: lines.map((l) => l.text).join("\n") }, source: { file, line: lines[0]!.line } };
  };
  for await (const l of readLines(file, bad, tick)) {
    if (sampleBy === "line") {
      if (l.text.trim() === "") skip(new DataError("empty line", file, l.line));
      else yield { record: { text: l.text }, source: { file, line: l.line } };
    } else if (sampleBy === "paragraph" && l.text.trim() === "") {
      const out = flush();
      if (out) yield out;
    } else block.push(l);
  }
  // A document keeps its inner blank lines; trailing ones are the file's, not the text's.
  while (block.length > 0 && block[block.length - 1]!.text.trim() === "") block.pop();
  const out = flush();
  if (out) yield out;
  else if (sampleBy === "document") skip(new DataError("empty file", file, 1));
};

/** JSON lines (one object a line), or one JSON document: a list of objects, or an object whose `field` holds one. */
const readJson: Reader = async function* (file, options, ctx) {
  const { bad, tick } = ctx;
  if (options.field !== undefined || (extname(file).toLowerCase() === ".json" && (await startsWithArray(file)))) {
    yield* readJsonDocument(file, options.field, ctx);
    return;
  }
  for await (const l of readLines(file, bad, tick)) {
    if (l.text.trim() === "") continue; // a blank line holds no record
    let value: unknown;
    try {
      value = JSON.parse(l.text);
    } catch (err) {
      bad(new DataError(`not valid JSON: ${(err as Error).message}`, file, l.line));
      continue;
    }
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      bad(
        new DataError(
          `expected a JSON object a line; got ${Array.isArray(value) ? "an array" : JSON.stringify(value).slice(0, 40)}`,
          file,
          l.line,
        ),
      );
      continue;
    }
    yield { record: value as DataRecord, source: { file, line: l.line } };
  }
};

async function startsWithArray(file: string): Promise<boolean> {
  for await (const l of readLines(file, () => {})) {
    const t = l.text.trimStart();
    if (t !== "") return t.startsWith("[");
  }
  return false;
}

/** A whole JSON document (read at once: use JSON lines for files larger than memory). */
async function* readJsonDocument(file: string, field: string | undefined, { bad, tick }: ReadContext): AsyncGenerator<SourcedRecord> {
  const lines: string[] = [];
  for await (const l of readLines(file, bad, tick)) lines.push(l.text); // bad UTF-8 is reported by line
  const text = lines.join("\n");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (err) {
    const at = jsonErrorOffset(text);
    const line = text.slice(0, at).split("\n").length;
    throw new DataError(
      `not valid JSON at column ${at - text.lastIndexOf("\n", at - 1)}: ${(err as Error).message.slice(0, 200)}`,
      file,
      line,
    );
  }
  let list: unknown = value;
  if (field !== undefined) {
    if (typeof value !== "object" || value === null || Array.isArray(value) || !(field in value))
      throw new DataError(`field "${field}" not found at the top level of the JSON document`, file, 1, field);
    list = (value as DataRecord)[field];
  }
  if (!Array.isArray(list))
    throw new DataError(`expected a list of records${field ? ` in "${field}"` : ""}; got ${typeof list}`, file, 1, field);
  // A document's records have no lines of their own: the source line is the record's 1-based index.
  for (const [i, item] of list.entries()) {
    const source = { file, line: i + 1 };
    if (typeof item !== "object" || item === null || Array.isArray(item))
      bad(dataError(source, `record ${i + 1} of the JSON list is not an object`));
    else yield { record: item as DataRecord, source };
  }
}

/** CSV (or TSV) with a header row, as datasets' "csv" builder; cells stay strings. */
const readCsv: Reader = async function* (file, options, { bad, skip, tick }) {
  const delimiter = options.delimiter ?? (extname(file).toLowerCase() === ".tsv" ? "\t" : ",");
  const parser = parseCsv({ delimiter, info: true, skip_empty_lines: true, relax_column_count: true });
  const lines = async function* () {
    for await (const l of readLines(file, bad, tick)) yield l.text + "\n";
  };
  const source = Readable.from(lines());
  source.on("error", (err) => parser.destroy(err));
  source.pipe(parser);
  let header: string[] | undefined;
  try {
    for await (const { record, info } of parser as AsyncIterable<{ record: string[]; info: { lines: number } }>) {
      const line = info.lines;
      if (!header) {
        header = record.map((h) => h.trim());
        const dup = header.find((h, i) => header!.indexOf(h) !== i);
        if (dup !== undefined) throw new DataError(`the header names column "${dup}" twice`, file, line, dup);
        continue;
      }
      if (record.length !== header.length) {
        const missing = header.slice(record.length);
        bad(
          new DataError(
            `row has ${record.length} cells, the header ${header.length} (${header.join(", ")})` +
              (missing.length ? `; missing column "${missing[0]}"` : ""),
            file,
            line,
            missing[0],
          ),
        );
        continue;
      }
      yield { record: Object.fromEntries(header.map((h, i) => [h, record[i]])), source: { file, line } };
    }
  } catch (err) {
    if (err instanceof DataError) throw err;
    const csv = err as CsvError & { lines?: number };
    throw new DataError(`not valid CSV: ${csv.message}`, file, csv.lines);
  } finally {
    source.destroy();
  }
  if (!header) skip(new DataError("empty CSV file (no header row)", file, 1));
};

/**
 * The offset of the first syntax error in a JSON text that JSON.parse rejected (V8's message
 * gives a position only sometimes): a scan of the JSON grammar that stops where it breaks.
 */
export function jsonErrorOffset(text: string): number {
  let i = 0;
  const ws = () => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++;
  };
  const fail = () => {
    throw i;
  };
  const value = (): void => {
    ws();
    const c = text[i];
    if (c === "{" || c === "[") {
      const close = c === "{" ? "}" : "]";
      i++;
      ws();
      if (text[i] === close) return void i++;
      for (;;) {
        if (c === "{") {
          ws();
          if (text[i] !== '"') fail();
          string();
          ws();
          if (text[i] !== ":") fail();
          i++;
        }
        value();
        ws();
        if (text[i] === ",") i++;
        else if (text[i] === close) return void i++;
        else fail();
      }
    }
    if (c === '"') return string();
    const literal = /^(?:-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?|true|false|null)/.exec(text.slice(i, i + 400));
    if (!literal) fail();
    i += literal![0].length;
  };
  const string = () => {
    const m = /^"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/.exec(text.slice(i));
    if (!m) fail();
    i += m![0].length;
  };
  try {
    value();
    ws();
    return i < text.length ? i : text.length;
  } catch (at) {
    return at as number;
  }
}
