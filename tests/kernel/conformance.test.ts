import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { CLI, installKernel, PYTHON, run, runPythonCheck, type InstalledKernel } from "./harness.js";

interface UnittestResult {
  run: number;
  failures: Record<string, string>;
  errors: Record<string, string>;
  skipped: string[];
  passed: string[];
}

let kernel: InstalledKernel;
beforeAll(() => {
  kernel = installKernel(mkdtempSync(join(tmpdir(), "lora-lab-kernelspec-")));
});

describe("lora-lab install --prefix", () => {
  it("writes a kernel.json that runs this Node on dist/cli/main.js kernel {connection_file}", () => {
    const spec = JSON.parse(readFileSync(join(kernel.jupyterPath, "kernels", kernel.name, "kernel.json"), "utf8"));
    expect(spec).toMatchObject({
      argv: [process.execPath, CLI, "kernel", "{connection_file}"],
      display_name: "TypeScript (lora-lab)",
      language: "typescript",
      interrupt_mode: "message",
    });
  });

  it("is listed by `jupyter kernelspec list --json` (jupyter_client's KernelSpecApp) through JUPYTER_PATH", async () => {
    // Debian ships no jupyter-kernelspec script: run the app it would run.
    const app = "from jupyter_client.kernelspecapp import KernelSpecApp; KernelSpecApp.launch_instance()";
    const out = await run(PYTHON, ["-c", app, "list", "--json"], { env: { ...kernel.env, PYDEVD_DISABLE_FILE_VALIDATION: "1" } });
    const specs = JSON.parse(out.stdout.slice(out.stdout.indexOf("{"))).kernelspecs;
    expect(specs[kernel.name].resource_dir).toBe(join(kernel.jupyterPath, "kernels", kernel.name));
    expect(specs[kernel.name].spec.display_name).toBe("TypeScript (lora-lab)");
  });
});

describe("jupyter_kernel_test (Debian) against the installed kernel", () => {
  it("passes every test that is not skipped; skips only pager and clear_output (tslab has no API for them)", async () => {
    const { result, stderr } = await runPythonCheck<UnittestResult>("kernel_conformance.py", kernel);
    expect(result.failures, stderr.slice(-4000)).toEqual({});
    expect(result.errors, stderr.slice(-4000)).toEqual({});
    expect(result.run).toBe(12);
    expect(result.skipped).toEqual(["test_clear_output", "test_pager"]);
    expect(result.passed.sort()).toEqual(
      [
        "test_completion",
        "test_display_data",
        "test_error",
        "test_execute_result",
        "test_execute_stderr",
        "test_execute_stdout",
        "test_history",
        "test_inspect",
        "test_is_complete",
        "test_kernel_info",
      ].sort(),
    );
  });
});
