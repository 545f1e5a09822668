import { createReadStream } from "node:fs";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import cliProgress from "cli-progress";
import { DataError } from "./records.js";

/** One line of a file, decoded, without its line break ("\n" or "\r\n"). */
export interface Line {
  text: string;
  /** 1-based. */
  line: number;
}

/** What to do with a line that is not valid UTF-8. */
export type OnBadLine = (error: DataError) => void;

const CHUNK_BYTES = 1 << 20;
const fatalUtf8 = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });
const lenientUtf8 = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

/**
 * The lines of `file`, read in 1 MiB chunks (never the whole file), each decoded as UTF-8 on
 * its own: a line break byte never occurs inside a UTF-8 character, so splitting bytes first is
 * exact, and a bad byte is reported with its line. A leading byte-order mark is dropped. A line
 * that is not UTF-8 is passed to `onBadLine` (which throws, or records a skip and returns).
 */
export async function* readLines(file: string, onBadLine: OnBadLine, onBytes?: (n: number) => void): AsyncGenerator<Line> {
  let pending: Buffer[] = [];
  let line = 0;
  const emit = (bytes: Buffer): Line | undefined => {
    line++;
    let end = bytes.length;
    if (end > 0 && bytes[end - 1] === 0x0d) end--;
    let start = 0;
    if (line === 1 && end >= 3 && bytes[0] === 0xef && bytes[1] === 0xbb && bytes[2] === 0xbf) start = 3;
    const view = bytes.subarray(start, end);
    try {
      return { text: fatalUtf8.decode(view), line };
    } catch {
      const at = firstInvalidUtf8(view);
      onBadLine(
        new DataError(`invalid UTF-8 at byte ${at + 1} of the line (byte 0x${view[at]!.toString(16).padStart(2, "0")})`, file, line),
      );
      return undefined;
    }
  };
  for await (const chunk of createReadStream(file, { highWaterMark: CHUNK_BYTES }) as AsyncIterable<Buffer>) {
    onBytes?.(chunk.length);
    let from = 0;
    for (let nl = chunk.indexOf(0x0a, from); nl !== -1; nl = chunk.indexOf(0x0a, from)) {
      pending.push(chunk.subarray(from, nl));
      const out = emit(pending.length === 1 ? pending[0]! : Buffer.concat(pending));
      pending = [];
      if (out) yield out;
      from = nl + 1;
    }
    if (from < chunk.length) pending.push(chunk.subarray(from));
  }
  // A last line without a final line break; a file ending in "\n" has no empty line after it.
  if (pending.length > 0) {
    const out = emit(Buffer.concat(pending));
    if (out) yield out;
  }
}

/** The byte offset of the first invalid sequence: text before it decodes exactly, so its UTF-8 length is the offset. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  let offset = 0;
  for (const ch of lenientUtf8.decode(bytes)) {
    const genuine = bytes[offset] === 0xef && bytes[offset + 1] === 0xbf && bytes[offset + 2] === 0xbd;
    if (ch === "\uFFFD" && !genuine) return offset;
    offset += Buffer.byteLength(ch);
  }
  return Math.max(0, bytes.length - 1);
}

/**
 * The files `path` stands for: itself, or every file under a folder (recursively, each folder's
 * entries sorted by name so the order is the same on every machine), hidden files (".name") excepted.
 */
export async function listFiles(path: string): Promise<string[]> {
  let info;
  try {
    info = await stat(path);
  } catch (err) {
    throw new DataError(`cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, path);
  }
  if (!info.isDirectory()) return [path];
  const out: string[] = [];
  const walk = async (dir: string) => {
    const entries = (await readdir(dir, { withFileTypes: true })).sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      if (entry.name.startsWith(".")) continue;
      const full = join(dir, entry.name);
      if (entry.isDirectory()) await walk(full);
      else if (entry.isFile()) out.push(full);
    }
  };
  await walk(path);
  if (out.length === 0) throw new DataError("the folder holds no files", path);
  return out;
}

/** Loads at least this many bytes show a bar by default (when stderr is a terminal). */
export const PROGRESS_MIN_BYTES = 16 << 20;

/** A byte-count progress bar on stderr for long loads; `tick` is a no-op when the bar is off. */
export interface LoadProgress {
  tick(bytes: number): void;
  stop(): void;
}

export async function loadProgress(files: readonly string[], enabled: boolean | undefined): Promise<LoadProgress> {
  let total = 0;
  for (const f of files) total += (await stat(f)).size;
  const on = enabled ?? (process.stderr.isTTY === true && total >= PROGRESS_MIN_BYTES);
  if (!on) return { tick() {}, stop() {} };
  const bar = new cliProgress.SingleBar(
    {
      format: "loading |{bar}| {percentage}% | {mb}/{totalMb} MB | eta {eta_formatted}",
      hideCursor: true,
      noTTYOutput: true,
      notTTYSchedule: 5000,
      stream: process.stderr,
    },
    cliProgress.Presets.shades_classic,
  );
  const mb = (n: number) => (n / 1e6).toFixed(1);
  let done = 0;
  bar.start(total, 0, { mb: mb(0), totalMb: mb(total) });
  return {
    tick(bytes) {
      done += bytes;
      bar.update(done, { mb: mb(done) });
    },
    stop() {
      bar.stop();
    },
  };
}
