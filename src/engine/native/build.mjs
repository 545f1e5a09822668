#!/usr/bin/env node
/**
 * Builds lora-lab's optional native matrix product (dist/native/lora_lab_blas.node) from blas.c
 * with the system C compiler, Node's headers and OpenBLAS (Debian: libopenblas-dev). Optional: when
 * something is missing it says what and exits 0, and lora-lab keeps using the wasm kernels.
 * `--strict` exits 1 instead; `--out FILE` writes elsewhere. Run: node src/engine/native/build.mjs
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..", "..");
const outArg = process.argv.indexOf("--out");
const out = outArg >= 0 ? process.argv[outArg + 1] : join(root, "dist", "native", "lora_lab_blas.node");
const strict = process.argv.includes("--strict");

function give_up(why) {
  console.error(`lora-lab native blas not built: ${why}. The wasm kernels are used instead.`);
  process.exit(strict ? 1 : 0);
}

// A failed build must not leave an addon built from an older blas.c behind: remove it first.
rmSync(out, { force: true });
const headerDirs = [join(dirname(process.execPath), "..", "include", "node"), "/usr/include/node", "/usr/local/include/node"];
const headers = headerDirs.find((d) => existsSync(join(d, "node_api.h")));
if (!headers) give_up(`node_api.h not found in ${headerDirs.join(", ")}`);
const cc = process.env.CC ?? "cc";
mkdirSync(dirname(out), { recursive: true });
try {
  execFileSync(
    cc,
    [
      "-O3",
      "-march=native",
      "-fno-math-errno",
      "-fno-trapping-math",
      "-fopenmp-simd",
      "-shared",
      "-fPIC",
      "-DNODE_GYP_MODULE_NAME=lora_lab_blas",
      `-I${headers}`,
      join(here, "blas.c"),
      "-lopenblas",
      "-lpthread",
      "-lm",
      "-o",
      out,
    ],
    { stdio: ["ignore", "inherit", "pipe"] },
  );
} catch (err) {
  const stderr = err?.stderr?.toString().trim().split("\n").slice(0, 3).join(" | ");
  give_up(`${cc} failed (${stderr || err.message}); it needs a C compiler and OpenBLAS (apt-get install gcc libopenblas-dev)`);
}
console.log(`built ${out}`);
