import { chmodSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { writeFileAtomic } from "../../src/io/index.js";

const root = mkdtempSync(join(tmpdir(), "lora-lab-atomic-"));
afterAll(() => rmSync(root, { recursive: true, force: true }));
let dir = "";
let n = 0;
beforeEach(() => {
  dir = join(root, `case-${n++}`);
  mkdirSync(dir);
});

describe("writeFileAtomic", () => {
  it("writes a string as UTF-8 and leaves no temp file", async () => {
    await writeFileAtomic(join(dir, "a.json"), '{"ü":1}\n');
    expect(readFileSync(join(dir, "a.json"), "utf8")).toBe('{"ü":1}\n');
    expect(readdirSync(dir)).toEqual(["a.json"]);
  });

  it("writes the bytes of a Uint8Array subarray, not its whole buffer", async () => {
    const bytes = new Uint8Array([9, 1, 2, 3, 9]).subarray(1, 4);
    await writeFileAtomic(join(dir, "b.bin"), bytes);
    expect([...readFileSync(join(dir, "b.bin"))]).toEqual([1, 2, 3]);
  });

  it("creates missing parent directories", async () => {
    const path = join(dir, "x", "y", "z.txt");
    await writeFileAtomic(path, "deep");
    expect(readFileSync(path, "utf8")).toBe("deep");
  });

  it("replaces an existing file and keeps its permission bits", async () => {
    const path = join(dir, "c.txt");
    writeFileSync(path, "old old old");
    chmodSync(path, 0o640);
    await writeFileAtomic(path, "new");
    expect(readFileSync(path, "utf8")).toBe("new");
    expect(statSync(path).mode & 0o777).toBe(0o640);
    expect(readdirSync(dir)).toEqual(["c.txt"]);
  });

  it("fails when the parent is a file, naming the target and keeping the errno code", async () => {
    const blocker = join(dir, "blocker");
    writeFileSync(blocker, "I am a file");
    const target = join(blocker, "out.txt");
    const err = await writeFileAtomic(target, "x").then(
      () => undefined,
      (e: NodeJS.ErrnoException) => e,
    );
    expect(err?.message).toContain(`cannot write ${target} atomically`);
    expect(["ENOTDIR", "EEXIST"]).toContain(err?.code);
    expect(readFileSync(blocker, "utf8")).toBe("I am a file");
    expect(readdirSync(dir)).toEqual(["blocker"]);
  });

  it("does not clobber the old file and removes the temp file when the write itself fails", async () => {
    const path = join(dir, "keep.txt");
    writeFileSync(path, "precious");
    // A value fs cannot write makes the failure happen after the temp file exists.
    await expect(writeFileAtomic(path, 42 as unknown as string)).rejects.toThrow(`cannot write ${path} atomically`);
    expect(readFileSync(path, "utf8")).toBe("precious");
    expect(readdirSync(dir)).toEqual(["keep.txt"]);
  });

  it("removes the temp file when the rename fails (target is a directory)", async () => {
    const target = join(dir, "occupied");
    mkdirSync(target);
    writeFileSync(join(target, "inside.txt"), "still here");
    await expect(writeFileAtomic(target, "x")).rejects.toThrow(/cannot write .*occupied atomically/);
    expect(readdirSync(dir)).toEqual(["occupied"]);
    expect(readFileSync(join(target, "inside.txt"), "utf8")).toBe("still here");
  });

  it("leaves one whole version when writes race on the same path", async () => {
    const path = join(dir, "race.txt");
    const versions = Array.from({ length: 12 }, (_, i) => `version ${i} `.repeat(2000));
    await Promise.all(versions.map((v) => writeFileAtomic(path, v)));
    expect(versions).toContain(readFileSync(path, "utf8"));
    expect(readdirSync(dir)).toEqual(["race.txt"]);
  });
});
