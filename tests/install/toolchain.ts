import { execFileSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/**
 * Why lora-lab's native addon cannot be built here (no C compiler, no OpenBLAS header or library),
 * or undefined: a probe program on cblas, compiled and run. CI installs gcc and libopenblas-dev
 * (.ci/run), so there the addon tests are required, elsewhere they may skip.
 */
export function missingToolchain(): string | undefined {
  const dir = mkdtempSync(join(tmpdir(), "lora-lab-toolchain-"));
  const probe = join(dir, "probe.c");
  writeFileSync(probe, "#include <cblas.h>\nint main(void) { float x = 2; return cblas_sdot(1, &x, 1, &x, 1) == 4 ? 0 : 1; }\n");
  const cc = process.env.CC || "cc";
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

/** In CI the addon must build (.ci/run sets CI=true and installs the toolchain). */
export const inCI = process.env.CI === "true";
