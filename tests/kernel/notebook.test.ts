import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { installKernel, processAlive, runNotebook, runPythonCheck, type InstalledKernel } from "./harness.js";

let kernel: InstalledKernel;
beforeAll(() => {
  kernel = installKernel(mkdtempSync(join(tmpdir(), "lora-lab-nb-kernel-")));
});

describe("nbconvert --execute on the lora-lab kernel", () => {
  it("runs tests/kernel/fixtures/smoke.ipynb: lora-lab import, a plot through lab.show, stream and execute_result outputs", async () => {
    const { notebook } = await runNotebook("tests/kernel/fixtures/smoke.ipynb", kernel, { timeoutS: 300 });
    const [ready, plot, hello] = notebook.cells;
    expect(ready.execution_count).toBe(1);
    expect(ready.outputs).toEqual([{ output_type: "execute_result", execution_count: 1, data: { "text/plain": "'wasm'" }, metadata: {} }]);

    const displays = plot.outputs.filter((o: any) => o.output_type === "display_data");
    expect(displays).toHaveLength(1);
    // One display_data with several MIME types: Plotly JSON, HTML and text.
    expect(Object.keys(displays[0].data).sort()).toEqual(["application/vnd.plotly.v1+json", "text/html", "text/plain"]);
    expect(displays[0].data["application/vnd.plotly.v1+json"].data[0].name).toMatch(/^cosine/);
    expect(plot.outputs.at(-1)).toMatchObject({ output_type: "execute_result", data: { "text/plain": "'lora-lab'" } });

    expect(hello.outputs).toEqual([
      { output_type: "stream", name: "stdout", text: "hello from lora-lab\n" },
      { output_type: "execute_result", execution_count: 3, data: { "text/plain": "42" }, metadata: {} },
    ]);
  });
});

describe("the lora-lab kernel leaves no orphans", () => {
  it("exits when the process that started it is killed (parent PID watch)", async () => {
    const { result } = await runPythonCheck<{ kernelPid: number; gone: boolean; returncode?: number }>("orphan_check.py", kernel, 120_000);
    expect(result.kernelPid).toBeGreaterThan(0);
    expect(result.gone).toBe(true);
    expect(processAlive(result.kernelPid)).toBe(false);
  });
});
