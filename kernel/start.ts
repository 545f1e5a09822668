/**
 * Boots the kernel: module resolution for cells, tslab's converter and executor, the server, the
 * process-wide hooks (display, comms, signal), output routing, interrupts, and exit on shutdown or
 * when the parent process dies.
 */
import fs from "node:fs";
import { createRequire } from "node:module";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { inspect } from "node:util";
import type * as TslabConverter from "tslab/dist/converter.js";
import type * as TslabExecutor from "tslab/dist/executor.js";
import type * as TslabJupyter from "tslab/dist/jupyter.js";
import { COMMS_KEY } from "./comms.js";
import { Executions, SIGNAL_KEY } from "./execute.js";
import { findKernelPackageRoot, installRuntimeResolution, installTypeResolution } from "./resolve.js";
import { LabServer } from "./server.js";

export const DISPLAY_KEY = Symbol.for("lora-lab.display");

export interface DisplayContent {
  data: Record<string, unknown>;
  metadata?: Record<string, unknown>;
  transient?: { display_id?: string };
}

export interface RunningKernel {
  server: LabServer;
  /** Resolves with the exit code once the kernel has shut down (before the process exits). */
  closed: Promise<number>;
}

const require = createRequire(import.meta.url);

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

export async function runKernel(connectionFile: string): Promise<RunningKernel> {
  if (!fs.existsSync(connectionFile))
    throw new Error(`connection file ${connectionFile} does not exist; Jupyter passes it as {connection_file}`);
  const realStderr = process.stderr.write.bind(process.stderr);
  const log = (line: string) => void realStderr(`[lora-lab kernel ${process.pid}] ${line}\n`);

  const kernelRoot = findKernelPackageRoot(path.dirname(fileURLToPath(import.meta.url)));
  const version = JSON.parse(fs.readFileSync(path.join(kernelRoot, "package.json"), "utf8")).version as string;
  installRuntimeResolution(kernelRoot);
  const tslabRequire = createRequire(require.resolve("tslab/dist/jupyter"));
  installTypeResolution(tslabRequire("@tslab/typescript-for-tslab").sys, process.cwd(), kernelRoot);

  const { createConverter } = require("tslab/dist/converter") as typeof TslabConverter;
  const { createExecutor } = require("tslab/dist/executor") as typeof TslabExecutor;
  const jupyter = require("tslab/dist/jupyter") as typeof TslabJupyter;

  let node: TslabConverter.Converter | undefined;
  let browser: TslabConverter.Converter | undefined;
  const convs = {
    get node() {
      return (node ??= createConverter({ isJS: false, isBrowser: false }));
    },
    get browser() {
      return (browser ??= createConverter({ isJS: false, isBrowser: true }));
    },
    close() {
      node?.close();
      browser?.close();
    },
  };
  void convs.node; // the first cell should not pay for building the compiler

  let executions: Executions | undefined;
  const executor = createExecutor(process.cwd(), convs, {
    log: (...args: unknown[]) => executions?.executorConsole.log(...args),
    error: (...args: unknown[]) => executions?.executorConsole.error(...args),
  });

  let resolveClosed!: (code: number) => void;
  const closed = new Promise<number>((r) => (resolveClosed = r));
  let closing = false;
  const shutdown = async (code: number) => {
    if (closing) return;
    closing = true;
    await server.flush();
    for (const s of [server.iopub, server.shell, server.control, server.stdin, server.hb]) s.linger = 500;
    server.close();
    resolveClosed(code);
    // Timers a cell left behind must not keep a shut-down kernel alive.
    setTimeout(() => process.exit(code), 600).unref();
  };

  const server = new LabServer(new jupyter.JupyterHandlerImpl(executor, false), connectionFile, {
    implementationVersion: version,
    log,
    onShutdown: () => void shutdown(0),
  });
  executions = new Executions(
    executor,
    {
      publish: (type, content, parent) => server.publish(type, content, { parent }),
      reply: (msg, type, content) => server.reply(server.shell, msg, type, content),
      status: (state, parent) => server.status(state, parent),
    },
    Number(process.env.LORA_LAB_INTERRUPT_GRACE_MS ?? 30_000),
  );
  server.attach(executions);
  await server.init();

  // Output routing: every write goes to the message of its async context (see context.ts).
  const writer = (name: "stdout" | "stderr") =>
    function write(chunk: unknown, encoding?: unknown, cb?: unknown): boolean {
      const done = typeof encoding === "function" ? encoding : cb;
      const text = typeof chunk === "string" ? chunk : Buffer.from(chunk as Uint8Array).toString("utf8");
      if (!closing && !server.isSilent()) server.publish("stream", { name, text });
      if (typeof done === "function") done();
      return true;
    };
  process.stdout.write = writer("stdout") as typeof process.stdout.write;
  process.stderr.write = writer("stderr") as typeof process.stderr.write;

  const display = (content: DisplayContent, update = false) => {
    if (server.isSilent()) return;
    server.publish(update ? "update_display_data" : "display_data", {
      data: content.data,
      metadata: content.metadata ?? {},
      transient: content.transient ?? {},
    });
  };
  const g = globalThis as unknown as Record<symbol, unknown>;
  g[DISPLAY_KEY] = display;
  g[COMMS_KEY] = server.comms;
  Object.defineProperty(globalThis, SIGNAL_KEY, { configurable: true, get: () => executions!.signalForCaller() });
  // tslab's own `display` API (require("tslab").display) sends through this too.
  (jupyter as unknown as { lastWriteDisplayData: unknown }).lastWriteDisplayData = display;

  process.on("SIGINT", () => executions!.interrupt());
  process.on("uncaughtException", (err) => process.stderr.write(`Uncaught ${inspect(err)}\n`));
  process.on("unhandledRejection", (reason) => process.stderr.write(`Unhandled promise rejection: ${inspect(reason)}\n`));

  // No orphans: leave when the process that started us (Jupyter) is gone.
  const parentPid = Number(process.env.JPY_PARENT_PID) || 0;
  const ppid = process.ppid;
  const watch = setInterval(() => {
    if (process.ppid !== ppid || (parentPid > 1 && !alive(parentPid))) {
      log(`parent process ${parentPid || ppid} is gone; exiting`);
      clearInterval(watch);
      void shutdown(0);
    }
  }, 1000);
  watch.unref();

  log(`started (pid ${process.pid}, cwd ${process.cwd()}, lora-lab ${version} at ${kernelRoot})`);
  return { server, closed };
}
