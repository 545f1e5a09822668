/**
 * Startup and latency rows of issue 11 (`npm run bench -- --extras`): the Jupyter kernel's cold
 * start and a widget's comm round trip, measured by an independent client (bench/kernel_latency.py
 * on Debian's /usr/bin/python3 with jupyter_client), and the wall time of `npm start`'s demo
 * (`node dist/cli/main.js demo`, the build excluded). All use the built dist/: run `npm run build` first.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const CLI = join(ROOT, "dist", "cli", "main.js");
const PYTHON = "/usr/bin/python3";

export interface ExtraRow {
  id: string;
  label: string;
  /** Median (or the single value) in milliseconds. */
  ms: number;
  samples: number[];
}

export interface ExtrasResult {
  rows: ExtraRow[];
  widgetProtocol?: string;
}

function runChild(
  cmd: string,
  args: string[],
  timeoutMs: number,
): Promise<{ code: number | null; stdout: string; stderr: string; ms: number }> {
  return new Promise((done, fail) => {
    const t0 = performance.now();
    const child = spawn(cmd, args, { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), timeoutMs);
    child.on("error", fail);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr, ms: performance.now() - t0 });
    });
  });
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface KernelLatency {
  coldStartMs: number[];
  firstCellMs: number;
  echoMs: number[];
  idleMs: number[];
  protocol?: string;
}

export async function runExtras(
  opts: { starts?: number; roundTrips?: number; demo?: boolean; log?: (s: string) => void } = {},
): Promise<ExtrasResult> {
  const log = opts.log ?? ((s: string) => process.stderr.write(s + "\n"));
  if (!existsSync(CLI)) throw new Error(`--extras needs the built CLI at ${CLI}; run \`npm run build\` first`);
  const starts = opts.starts ?? 3;
  const roundTrips = opts.roundTrips ?? 50;
  log(`extras: kernel cold start x${starts}, widget round trip x${roundTrips}`);
  const k = await runChild(
    PYTHON,
    [
      join(ROOT, "bench", "kernel_latency.py"),
      "--cli",
      CLI,
      "--node",
      process.execPath,
      "--starts",
      String(starts),
      "--round-trips",
      String(roundTrips),
    ],
    600_000,
  );
  const last = k.stdout.trim().split("\n").pop() ?? "";
  let lat: KernelLatency;
  try {
    lat = JSON.parse(last) as KernelLatency;
  } catch {
    throw new Error(
      `bench/kernel_latency.py printed no JSON result (exit ${k.code}); it needs Debian's python3-jupyter-client.\nstderr:\n${k.stderr.slice(-4000)}`,
    );
  }
  const rows: ExtraRow[] = [
    {
      id: "kernel-cold-start",
      label: `kernel cold start (spawn -> first kernel_info_reply), median of ${starts}`,
      ms: median(lat.coldStartMs),
      samples: lat.coldStartMs,
    },
    {
      id: "kernel-first-cell",
      label: "first cell: import lora-lab/widgets, IntSlider, display (execute -> reply)",
      ms: lat.firstCellMs,
      samples: [lat.firstCellMs],
    },
    {
      id: "widget-echo",
      label: `widget comm round trip: front-end update -> echo_update, median of ${roundTrips}`,
      ms: median(lat.echoMs),
      samples: lat.echoMs,
    },
    {
      id: "widget-idle",
      label: `widget comm round trip: front-end update -> kernel idle, median of ${roundTrips}`,
      ms: median(lat.idleMs),
      samples: lat.idleMs,
    },
  ];
  if (opts.demo ?? true) {
    const dir = mkdtempSync(join(tmpdir(), "lora-lab-bench-demo-"));
    log("extras: npm start's demo (node dist/cli/main.js demo), once");
    // --report only moves the HTML out of the work tree; the run is npm start's default demo.
    const d = await runChild(process.execPath, [CLI, "demo", "--report", join(dir, "report.html")], 1_800_000);
    rmSync(dir, { recursive: true, force: true });
    if (d.code !== 0) throw new Error(`node dist/cli/main.js demo exited with ${d.code}:\n${d.stderr.slice(-4000)}`);
    rows.push({
      id: "npm-start-demo",
      label: "npm start: node dist/cli/main.js demo (6 strategies x 150 steps, build excluded), once",
      ms: d.ms,
      samples: [d.ms],
    });
  }
  return { rows, widgetProtocol: lat.protocol };
}

export function extrasMarkdown(result: ExtrasResult): string {
  const fmt = (ms: number) => (ms >= 10_000 ? `${(ms / 1000).toFixed(1)} s` : `${ms.toFixed(ms < 10 ? 2 : 0)} ms`);
  const spread = (xs: number[]) => (xs.length > 1 ? `${fmt(Math.min(...xs))} .. ${fmt(Math.max(...xs))}` : "-");
  return [
    `Startup and latency (widget protocol ${result.widgetProtocol ?? "?"}; client: jupyter_client on /usr/bin/python3)`,
    "",
    "| measurement | time | range |",
    "|---|---|---|",
    ...result.rows.map((r) => `| ${r.label} | ${fmt(r.ms)} | ${spread(r.samples)} |`),
  ].join("\n");
}
