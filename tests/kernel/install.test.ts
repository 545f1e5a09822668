import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { CLI, ROOT } from "./harness.js";

const cli = (args: string[], env: NodeJS.ProcessEnv = {}) =>
  spawnSync(process.execPath, [CLI, ...args], { cwd: ROOT, encoding: "utf8", env: { ...process.env, ...env } });
const tmp = () => mkdtempSync(join(tmpdir(), "lora-lab-install-"));
const specAt = (dir: string) => JSON.parse(readFileSync(join(dir, "kernel.json"), "utf8"));

describe("lora-lab install", () => {
  it("--user writes into $JUPYTER_DATA_DIR/kernels/lora-lab", () => {
    const data = tmp();
    const out = cli(["install", "--user"], { JUPYTER_DATA_DIR: data });
    expect(out.status, out.stderr).toBe(0);
    expect(specAt(join(data, "kernels", "lora-lab")).display_name).toBe("TypeScript (lora-lab)");
  });

  it("--user without JUPYTER_DATA_DIR writes into $XDG_DATA_HOME/jupyter (~/.local/share/jupyter by default)", () => {
    const xdg = tmp();
    const env = { ...process.env, XDG_DATA_HOME: xdg };
    delete env.JUPYTER_DATA_DIR;
    const out = spawnSync(process.execPath, [CLI, "install"], { cwd: ROOT, encoding: "utf8", env });
    expect(out.status, out.stderr).toBe(0);
    expect(existsSync(join(xdg, "jupyter", "kernels", "lora-lab", "kernel.json"))).toBe(true);
  });

  it("--sys-prefix writes into $VIRTUAL_ENV/share/jupyter when a virtual env is active", () => {
    const venv = tmp();
    const out = cli(["install", "--sys-prefix", "--name", "ll2"], { VIRTUAL_ENV: venv, CONDA_PREFIX: "" });
    expect(out.status, out.stderr).toBe(0);
    expect(specAt(join(venv, "share", "jupyter", "kernels", "ll2")).argv.slice(2)).toEqual(["kernel", "{connection_file}"]);
  });

  it("--prefix DIR --name NAME writes into DIR/share/jupyter/kernels/NAME", () => {
    const prefix = tmp();
    execFileSync(process.execPath, [CLI, "install", "--prefix", prefix, "--name", "my-kernel"]);
    const spec = specAt(join(prefix, "share", "jupyter", "kernels", "my-kernel"));
    expect(spec.argv).toEqual([process.execPath, CLI, "kernel", "{connection_file}"]);
    expect(spec.language).toBe("typescript");
  });

  it("install also copies the widget front end: the labextension and the AMD bundle next to the kernelspec", () => {
    const prefix = tmp();
    execFileSync(process.execPath, [CLI, "install", "--prefix", prefix]);
    const data = join(prefix, "share", "jupyter");
    const ext = JSON.parse(readFileSync(join(data, "labextensions", "lora-lab-widgets", "package.json"), "utf8"));
    expect(ext.jupyterlab._build.load).toMatch(/^static\/remoteEntry\.[0-9a-f]+\.js$/);
    expect(existsSync(join(data, "labextensions", "lora-lab-widgets", ext.jupyterlab._build.load))).toBe(true);
    expect(readFileSync(join(data, "nbextensions", "lora-lab-widgets", "index.js"), "utf8")).toBe(
      readFileSync(join(ROOT, "widgets", "dist", "index.js"), "utf8"),
    );
  });

  it("rejects two targets at once and a name with a slash, saying what is allowed", () => {
    const both = cli(["install", "--user", "--prefix", tmp()]);
    expect(both.status).toBe(1);
    expect(both.stderr).toMatch(/choose one of --user, --sys-prefix, --prefix/);
    const bad = cli(["install", "--prefix", tmp(), "--name", "a/b"]);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/kernel name "a\/b" is not valid; use letters, digits/);
  });

  it("kernel without a connection file fails with a message naming {connection_file}", () => {
    const out = cli(["kernel"]);
    expect(out.status).toBe(1);
    expect(out.stderr).toMatch(/connection file Jupyter passes as \{connection_file\}/);
  });
});
