import { execFileSync } from "node:child_process";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { inCI, missingToolchain } from "../install/toolchain.js";

// The trajectory and native tests pass on the JavaScript kernels too, so without this file a
// failed addon build goes unnoticed. Where a C compiler and OpenBLAS are present (and always in CI,
// which installs them: .ci/run), ready() must load the addon that `npm run build` put in
// dist/native (or build it there on first use). Machines without them keep the wasm path, checked
// by without_native.test.ts; tests/install/packed.test.ts checks a user's install.

// The default path, as a user gets it: no override, no opt-out (this fork's environment only).
delete process.env.LORA_LAB_NATIVE;
delete process.env.LORA_LAB_NATIVE_PATH;

/** The build's own error, for the failure message (built aside, with --strict so it says why). */
function buildError(): string {
  const out = join(mkdtempSync(join(tmpdir(), "lora-lab-native-")), "lora_lab_blas.node");
  try {
    execFileSync(process.execPath, ["src/engine/native/build.mjs", "--strict", "--out", out], { stdio: ["ignore", "pipe", "pipe"] });
    return `it builds now (${out}): the addon in dist/native is stale, run npm run build:native`;
  } catch (err) {
    return String((err as { stderr?: Buffer }).stderr ?? err).trim();
  }
}

const missing = missingToolchain();

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
