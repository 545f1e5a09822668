import { randomBytes } from "node:crypto";
import { mkdir, open, rename, stat, unlink } from "node:fs/promises";
import { basename, dirname, join } from "node:path";

/**
 * Writes `data` to `path` so that readers see either the old file or the whole new one, never a
 * torn write: a temp file in the same directory (rename is only atomic within one filesystem),
 * fsync, then rename over the target. The temp file is removed when anything fails, and parent
 * directories are created as needed. An existing file's permission bits are kept.
 */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const dir = dirname(path);
  const temp = join(dir, `.${basename(path)}.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  let created = false;
  try {
    await mkdir(dir, { recursive: true });
    const mode = await existingMode(path);
    const handle = await open(temp, "wx", mode ?? 0o666);
    created = true;
    try {
      await handle.writeFile(data);
      if (mode !== undefined) await handle.chmod(mode); // open()'s mode is filtered by the umask
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, path);
    created = false;
    await syncDirectory(dir);
  } catch (err) {
    if (created) await unlink(temp).catch(() => undefined);
    throw describe(err, path);
  }
}

async function existingMode(path: string): Promise<number | undefined> {
  try {
    const s = await stat(path);
    return s.isFile() ? s.mode & 0o7777 : undefined;
  } catch {
    return undefined;
  }
}

/** Makes the rename itself durable; directories cannot be opened for sync on every platform. */
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
  const wrapped: NodeJS.ErrnoException = new Error(`cannot write ${path} atomically: ${cause?.message ?? String(err)}`, { cause: err });
  if (cause?.code) wrapped.code = cause.code;
  return wrapped;
}
