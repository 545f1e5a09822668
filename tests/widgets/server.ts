/** Debian's jupyter_server on loopback with token auth, serving the test page as static files. */
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ROOT } from "./browser.js";

export const PYTHON = "/usr/bin/python3";

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => resolve(port));
    });
    srv.on("error", reject);
  });
}

export interface JupyterServer {
  baseUrl: string;
  token: string;
  log: () => string;
  stop: () => Promise<void>;
}

/** Installs the lora-lab kernelspec into a temporary prefix and starts jupyter_server in `cwd`. */
export async function startServer(staticDir: string, cwd = ROOT): Promise<JupyterServer> {
  const prefix = mkdtempSync(join(tmpdir(), "lora-lab-jupyter-"));
  const install = spawnSync(process.execPath, [join(ROOT, "dist/cli/main.js"), "install", "--prefix", prefix], { encoding: "utf8" });
  if (install.status !== 0) throw new Error(`lora-lab install failed: ${install.stderr}`);
  const port = await freePort();
  const token = randomBytes(16).toString("hex");
  let log = "";
  const env = {
    ...process.env,
    JUPYTER_PATH: join(prefix, "share", "jupyter"),
    JUPYTER_RUNTIME_DIR: join(prefix, "runtime"),
    JUPYTER_CONFIG_DIR: join(prefix, "config"),
    JUPYTER_DATA_DIR: join(prefix, "data"),
  };
  const proc: ChildProcess = spawn(
    PYTHON,
    [
      "-m",
      "jupyter_server",
      "--no-browser",
      "--ServerApp.ip=127.0.0.1",
      `--ServerApp.port=${port}`,
      "--ServerApp.port_retries=0",
      `--ServerApp.token=${token}`,
      "--ServerApp.extra_static_paths",
      staticDir,
      `--ServerApp.root_dir=${cwd}`,
      ...(process.getuid?.() === 0 ? ["--allow-root"] : []),
    ],
    { cwd, env, stdio: ["ignore", "pipe", "pipe"] },
  );
  proc.stdout!.on("data", (d) => (log += d));
  proc.stderr!.on("data", (d) => (log += d));
  const baseUrl = `http://127.0.0.1:${port}/`;
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (proc.exitCode !== null) throw new Error(`jupyter_server exited (${proc.exitCode}):\n${log}`);
    try {
      const r = await fetch(`${baseUrl}api/kernelspecs`, { headers: { Authorization: `token ${token}` } });
      if (r.ok) {
        const specs = (await r.json()) as { kernelspecs: Record<string, unknown> };
        if (!specs.kernelspecs["lora-lab"])
          throw new Error(`kernelspec lora-lab missing; have ${Object.keys(specs.kernelspecs).join(", ")}`);
        break;
      }
    } catch (e) {
      if (e instanceof Error && e.message.startsWith("kernelspec")) throw e;
    }
    if (Date.now() > deadline) throw new Error(`jupyter_server did not answer within 60 s:\n${log}`);
    await new Promise((r) => setTimeout(r, 300));
  }
  return {
    baseUrl,
    token,
    log: () => log,
    stop: async () => {
      proc.kill("SIGTERM");
      await new Promise((r) => (proc.exitCode !== null ? r(null) : proc.once("exit", r)));
      rmSync(prefix, { recursive: true, force: true });
    },
  };
}
