#!/usr/bin/env node
/**
 * Builds lora-lab's optional native matrix product (lora_lab_blas.node) from blas.c with the
 * system C compiler, Node's headers and OpenBLAS (Debian: libopenblas-dev). How to build lives
 * here; where the addon goes and when it is built (at install, at first use, by `lora-lab
 * build-native`) is src/engine/native.ts's business.
 *
 * As a script (npm's install script, `npm run build`): node src/engine/native/build.mjs [--out FILE]
 * [--strict]. Optional: when something is missing it says what and exits 0, and lora-lab keeps
 * using the wasm kernels (or builds it at first use); `--strict` exits 1 instead.
 */
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const SOURCE = join(here, "blas.c");
/** dist/native/ of the package this file belongs to: where the install script puts the addon. */
export const PACKAGE_ADDON = join(here, "..", "..", "..", "dist", "native", "lora_lab_blas.node");
/** The fix for a missing toolchain, said with every failure that one explains. */
const TOOLCHAIN_FIX =
  "install a C compiler and OpenBLAS (Debian/Ubuntu: apt-get install gcc libopenblas-dev), then run npx lora-lab build-native";

/**
 * What a built addon depends on: this file (the flags), blas.c, the platform and Node's ABI.
 * A cached addon is reused only under the same key.
 */
export function addonKey() {
  const hash = createHash("sha256")
    .update(readFileSync(SOURCE))
    .update(readFileSync(fileURLToPath(import.meta.url)));
  return `${process.platform}-${process.arch}-abi${process.versions.modules}-${hash.digest("hex").slice(0, 16)}`;
}

/** The compiler's first error line (gcc's "file:line:col: fatal error: ..."), else its first line. */
function firstErrorLine(stderr) {
  const lines = stderr
    .split("\n")
    .map((l) => l.trim())
    .filter(Boolean);
  return lines.find((l) => /\berror\b/i.test(l)) ?? lines[0];
}

/**
 * Compiles the addon to `out`: into a temporary file next to it, renamed into place when done, so
 * that no process ever loads a half-written addon. A failed build removes `out` too, so that no
 * addon built from an older blas.c stays behind.
 * Resolves to { ok: true, out, seconds } or { ok: false, reason, fix }; never rejects.
 */
export async function buildAddon(out, { cc = process.env.CC || "cc" } = {}) {
  const started = performance.now();
  rmSync(out, { force: true });
  const headerDirs = [join(dirname(process.execPath), "..", "include", "node"), "/usr/include/node", "/usr/local/include/node"];
  const headers = headerDirs.find((d) => existsSync(join(d, "node_api.h")));
  if (!headers) {
    return {
      ok: false,
      reason: `Node's headers (node_api.h) are not in ${headerDirs.join(", ")}`,
      fix: "use a Node that ships its headers (nodejs.org builds do; Debian: apt-get install libnode-dev), then run npx lora-lab build-native",
    };
  }
  mkdirSync(dirname(out), { recursive: true });
  const partial = `${out}.${process.pid}.partial`;
  const args = [
    "-O3",
    "-march=native",
    "-fno-math-errno",
    "-fno-trapping-math",
    "-fopenmp-simd",
    "-shared",
    "-fPIC",
    "-DNODE_GYP_MODULE_NAME=lora_lab_blas",
    `-I${headers}`,
    SOURCE,
    "-lopenblas",
    "-lpthread",
    "-lm",
    "-o",
    partial,
  ];
  const failure = await new Promise((resolve) => {
    execFile(cc, args, { maxBuffer: 16 << 20 }, (err, _stdout, stderr) => {
      if (!err) return resolve(undefined);
      if (err.code === "ENOENT") return resolve({ ok: false, reason: `no C compiler: \`${cc}\` is not installed`, fix: TOOLCHAIN_FIX });
      resolve({ ok: false, reason: `\`${cc}\` failed: ${firstErrorLine(String(stderr)) ?? err.message}`, fix: TOOLCHAIN_FIX });
    });
  });
  if (failure) {
    rmSync(partial, { force: true });
    return failure;
  }
  renameSync(partial, out);
  return { ok: true, out, seconds: (performance.now() - started) / 1000 };
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const outArg = process.argv.indexOf("--out");
  const out = outArg >= 0 ? process.argv[outArg + 1] : PACKAGE_ADDON;
  const result = await buildAddon(out);
  if (result.ok) console.log(`built ${out} in ${result.seconds.toFixed(1)} s`);
  else {
    console.error(`lora-lab native blas not built: ${result.reason}. The wasm kernels are used instead; to fix: ${result.fix}.`);
    process.exitCode = process.argv.includes("--strict") ? 1 : 0;
  }
}
