/**
 * The one place where lora-lab replaces files on disk. Every writer (safetensors, config.json,
 * adapter folders, trainer checkpoints) goes through here, so a crash, a full disk or a thrown
 * error mid-write leaves either the old version or the whole new one, never a torn file. The
 * recipe: write a temp sibling (rename is only atomic within one filesystem), fsync it, rename it
 * over the target, fsync the directory so the rename itself survives a power cut.
 */
import { randomBytes } from "node:crypto";
import { readdirSync } from "node:fs";
import { mkdir, open, rename, rm, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/** A temp name beside `path`: hidden, unique per process and call, so racing writers never share one. */
function siblingName(path: string, suffix: string): string {
  return join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.${suffix}`);
}

/**
 * Writes `data` to `path` so that readers see either the old file or the whole new one, never a
 * torn write. The temp file is removed when anything fails, and parent directories are created as
 * needed. An existing file's permission bits are kept.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  await replaceFiles(dirname(path), async (put) => put(basename(path), data), {}, path);
}

export interface WriteFilesOptions {
  /** Names in the folder to delete once the new files are in place (a stale file of another layout). */
  remove?: string[];
}

/**
 * Replaces several files of one folder together. `write` calls `put(name, data)` for each file;
 * each is written to a temp sibling and fsynced at once (so only one file's bytes are in memory at
 * a time), and nothing in the folder changes until `write` has returned: if it throws, or a put
 * fails, every temp file is removed and the old files are all still there. Then the temps are
 * renamed over their targets in the order they were put, `remove` is deleted and the folder
 * fsynced. Other files of the folder (a tokenizer beside the weights) are left alone.
 */
export async function writeFilesAtomic(
  dir: string,
  write: (put: (name: string, data: Uint8Array | string) => Promise<void>) => Promise<void>,
  opts: WriteFilesOptions = {},
): Promise<void> {
  await replaceFiles(dir, write, opts, dir);
}

/** writeFilesAtomic; errors name `label` until a file is being written, then that file. */
async function replaceFiles(
  dir: string,
  write: (put: (name: string, data: Uint8Array | string) => Promise<void>) => Promise<void>,
  opts: WriteFilesOptions,
  label: string,
): Promise<void> {
  const staged: { target: string; temp: string }[] = [];
  let current = label;
  try {
    await mkdir(dir, { recursive: true });
    await write(async (name, data) => {
      const target = join(dir, name);
      current = target;
      const temp = siblingName(target, "tmp");
      staged.push({ target, temp });
      await writeSynced(temp, data, await existingMode(target));
      current = label; // an error between two puts is not about the file just written
    });
    while (staged.length > 0) {
      const { target, temp } = staged[0];
      current = target;
      await rename(temp, target);
      staged.shift();
    }
    for (const name of opts.remove ?? []) await rm(join(dir, name), { force: true });
    await syncDirectory(dir);
  } catch (err) {
    await Promise.all(staged.map((s) => unlink(s.temp).catch(() => undefined)));
    throw describe(err, current);
  }
}

/**
 * Replaces a whole folder that lora-lab owns (a trainer's `checkpoint-<step>/`): `fill` writes the
 * new contents into a temp sibling folder; only when it has returned and the folder is fsynced is
 * the old folder moved aside, the new one renamed into place and the old one deleted. When `fill`
 * or the rename fails, the old folder is back where it was and the temp folder is gone. (A crash
 * between the two renames, a few microseconds, leaves the old folder as a hidden `.name.*.old`
 * sibling and the whole new one as `.name.*.tmp`: neither is ever half written.)
 */
export async function writeDirectoryAtomic(path: string, fill: (staging: string) => Promise<void>): Promise<void> {
  const staging = siblingName(path, "tmp");
  let aside: string | undefined;
  try {
    await mkdir(staging, { recursive: true });
    await fill(staging);
    await syncDirectory(staging);
    if (await exists(path)) {
      aside = siblingName(path, "old");
      await rename(path, aside);
    }
    try {
      await rename(staging, path);
    } catch (err) {
      if (aside) await rename(aside, path).catch(() => undefined);
      aside = undefined;
      throw err;
    }
    await syncDirectory(dirname(path));
  } catch (err) {
    await rm(staging, { recursive: true, force: true }).catch(() => undefined);
    throw describe(err, path);
  }
  if (aside) await rm(aside, { recursive: true, force: true });
}

/**
 * What an interrupted replacement of `path` left beside it (a crash between writeDirectoryAtomic's
 * two renames, or during a write): `old`, previous versions moved aside, and `staged`, new ones
 * not renamed in yet. Both empty when nothing was interrupted.
 */
export function leftBehind(path: string): { old: string[]; staged: string[] } {
  const prefix = `.${basename(path)}.`;
  let names: string[] = [];
  try {
    names = readdirSync(dirname(path)).filter((n) => n.startsWith(prefix) && /^\d+\.[0-9a-f]+\.(old|tmp)$/.test(n.slice(prefix.length)));
  } catch {
    // no folder: nothing left behind
  }
  const pick = (suffix: string) => names.filter((n) => n.endsWith(suffix)).map((n) => join(dirname(path), n));
  return { old: pick(".old"), staged: pick(".tmp") };
}

async function writeSynced(path: string, data: Uint8Array | string, mode: number | undefined): Promise<void> {
  const handle = await open(path, "wx", mode ?? 0o666);
  try {
    await handle.writeFile(data);
    if (mode !== undefined) await handle.chmod(mode); // open()'s mode is filtered by the umask
    await handle.sync();
  } finally {
    await handle.close();
  }
}

async function exists(path: string): Promise<boolean> {
  return stat(path).then(
    () => true,
    () => false,
  );
}

async function existingMode(path: string): Promise<number | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.mode & 0o7777 : undefined;
  } catch {
    return undefined;
  }
}

/** Makes a rename durable; directories cannot be opened for sync on every platform. */
async function syncDirectory(dir: string): Promise<void> {
  try {
    const handle = await open(dir, "r");
    try {
      await handle.sync();
    } finally {
      await handle.close();
    }
  } catch {
    // best effort
  }
}

/** Node's message names the temp file; say which target failed and keep the errno code. */
function describe(err: unknown, path: string): Error {
  const cause = err as NodeJS.ErrnoException;
  if (cause instanceof Error && cause.message.startsWith("cannot write ")) return cause; // already said by a nested writer
  const wrapped: NodeJS.ErrnoException = new Error(`cannot write ${path} atomically: ${cause?.message ?? String(err)}`, { cause: err });
  if (cause?.code) wrapped.code = cause.code;
  return wrapped;
}
