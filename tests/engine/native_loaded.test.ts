import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";

// The trajectory and native tests pass on the JavaScript kernels too, so without this file a
// failed addon build goes unnoticed. Where a C compiler and OpenBLAS are present (and always in CI,
// which installs them: .ci/run), ready() must load the addon that `npm run build` put in
// dist/native. Machines without them keep the wasm path, checked by without_native.test.ts.

// The default path, as a user gets it: no override, no opt-out (this fork's environment only).
delete process.env.LORA_LAB_NATIVE;
delete process.env.LORA_LAB_NATIVE_PATH;

/** Why the addon cannot be built here (no C compiler, no OpenBLAS header or library), or undefined. */
function missingToolchain(): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), "lora-lab-toolchain-"));
  const probe = join(dir, "probe.c");
  writeFileSync(probe, "#include <cblas.h>\nint main(void) { float x = 2; return cblas_sdot(1, &x, 1, &x, 1) == 4 ? 0 : 1; }\n");
  const cc = process.env.CC ?? "cc";
  try {
    execFileSync(cc, [probe, "-lopenblas", "-o", join(dir, "probe")], { stdio: ["ignore", "pipe", "pipe"] });
    execFileSync(join(dir, "probe"));
    return undefined;
  } catch (err) {
    const stderr = String((err as { stderr?: Buffer }).stderr ?? "")
      .trim()
      .split("\n")[0];
    return `${cc} cannot build and run a program on OpenBLAS (${stderr || (err as Error).message})`;
  }
}

/** The build's own error, for the failure message (built aside, with --strict so it says why). */
function buildError(): string {
  const out = join(mkdtempSync(join(tmpdir(), "lora-lab-native-")), "lora_lab_blas.node");
  try {
    execFileSync(process.execPath, ["src/engine/native/build.mjs", "--strict", "--out", out], { stdio: ["ignore", "pipe", "pipe"] });
    return `it builds now (${out}): dist/native is stale or missing, run npm run build:native`;
  } catch (err) {
    return String((err as { stderr?: Buffer }).stderr ?? err).trim();
  }
}

const missing = missingToolchain();
const inCI = process.env.CI === "true";

describe("the native addon where it can be built", () => {
  it.skipIf(missing !== undefined && !inCI)(
    "ready() loads dist/native's addon when gcc and OpenBLAS are present (always in CI)",
    async () => {
      expect(missing, "CI installs gcc and libopenblas-dev (.ci/run), so the addon must build there").toBeUndefined();
      const { ready } = await import("../../src/engine/index.js");
      const info = await ready({ backend: "wasm" });
      const status = info.nativeBlas;
      if (!status?.loaded) {
        expect.fail(
          `the native addon is not loaded (${status?.reason ?? "no status"}) although it can be built here; build error: ${buildError()}`,
        );
      }
      expect(status.threads).toBeGreaterThan(0);
    },
  );
});
