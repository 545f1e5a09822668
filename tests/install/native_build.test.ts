import { execFileSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { addonLocations, buildNativeAddon } from "../../src/engine/native.js";

// The first-use build's lock and locations, without a compiler: CC points at no program, so a
// build that runs fails at once with "no C compiler" (tests/install/packed.test.ts builds for real).
const noCompiler = join(tmpdir(), "lora-lab-no-such-cc");
const savedCC = process.env.CC;
afterEach(() => {
  if (savedCC === undefined) delete process.env.CC;
  else process.env.CC = savedCC;
});

describe("where the addon is looked for and built", () => {
  it("the package's dist/native first, then the user cache under a key of the sources and Node's ABI", async () => {
    const key = new RegExp(`^${process.platform}-${process.arch}-abi${process.versions.modules}-[0-9a-f]{16}$`);
    const [pkg, cached] = await addonLocations({ XDG_CACHE_HOME: "/xdg" });
    expect(pkg).toBe(join(process.cwd(), "dist", "native", "lora_lab_blas.node"));
    expect(cached.split("/").slice(0, 4).join("/")).toBe("/xdg/lora-lab/native");
    expect(cached.split("/")[4]).toMatch(key);
    expect(cached.endsWith("/lora_lab_blas.node")).toBe(true);
    const [, home] = await addonLocations({});
    expect(home.startsWith(join(homedir(), ".cache", "lora-lab", "native"))).toBe(true);
  });
});

describe("the first-use build's lock", () => {
  it("waits while a live process holds the lock, then takes the addon it built instead of building again", async () => {
    process.env.CC = noCompiler;
    const out = join(mkdtempSync(join(tmpdir(), "lora-lab-lock-")), "lora_lab_blas.node");
    writeFileSync(`${out}.lock`, String(process.pid)); // alive: this very process
    const pending = buildNativeAddon({ out });
    await new Promise((resolve) => setTimeout(resolve, 400));
    writeFileSync(out, "built by the lock holder");
    rmSync(`${out}.lock`);
    expect(await pending).toEqual({ ok: true, out });
    expect(readFileSync(out, "utf8")).toBe("built by the lock holder");
  });

  it("takes over a lock whose process is gone, and releases it after a failed build", async () => {
    process.env.CC = noCompiler;
    const out = join(mkdtempSync(join(tmpdir(), "lora-lab-lock-")), "lora_lab_blas.node");
    const gone = Number(execFileSync(process.execPath, ["-p", "process.pid"], { encoding: "utf8" }));
    writeFileSync(`${out}.lock`, String(gone));
    expect(await buildNativeAddon({ out })).toEqual({
      ok: false,
      reason: `no C compiler: \`${noCompiler}\` is not installed`,
      fix: "install a C compiler and OpenBLAS (Debian/Ubuntu: apt-get install gcc libopenblas-dev), then run npx lora-lab build-native",
    });
    expect(existsSync(`${out}.lock`)).toBe(false);
    expect(existsSync(out)).toBe(false);
  });
});
