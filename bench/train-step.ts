/**
 * Training-step time (forward, backward, AdamW; B=8) of the tiny and small GPT-2, full fine-tuning
 * and LoRA, on the wasm backend with lora-lab's kernels ("fast") and with tfjs-backend-wasm's own
 * ("stock"), and with --vs-torch the same step in PyTorch (bench/torch_step.py, Debian
 * python3-torch, OMP_WAIT_POLICY=PASSIVE, 2 threads) timed interleaved in the same run.
 * Run: npm run bench [-- --vs-torch] [--rows tiny-full,small-lora] [--no-stock]
 * Env: ROUNDS (5), STEPS per round (3), BATCH (8). Writes bench/results/train-step-<date>.{json,md}.
 */
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { ready, setWasmFastKernels } from "../src/engine/index.js";
import { makeRow, ROWS, type Row, type StepRunner } from "./rows.js";

const argv = process.argv.slice(2);
const vsTorch = argv.includes("--vs-torch");
const withStock = !argv.includes("--no-stock");
const rowArg = argv.indexOf("--rows");
const rows: Row[] = rowArg >= 0 ? argv[rowArg + 1].split(",").map((id) => ROWS.find((r) => r.id === id) ?? fail(id)) : ROWS;
const rounds = Number(process.env.ROUNDS ?? 5);
const steps = Number(process.env.STEPS ?? 3);
const B = Number(process.env.BATCH ?? 8);

function fail(id: string): never {
  throw new Error(`unknown row "${id}"; rows: ${ROWS.map((r) => r.id).join(", ")}`);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** PyTorch as a long-lived child answering "ROW STEPS" with per-step times. */
class Torch {
  private readonly child = spawn("/usr/bin/python3", [new URL("./torch_step.py", import.meta.url).pathname], {
    env: { ...process.env, OMP_WAIT_POLICY: "PASSIVE", TORCH_THREADS: process.env.TORCH_THREADS ?? "2" },
    stdio: ["pipe", "pipe", "inherit"],
  });
  private readonly lines = createInterface({ input: this.child.stdout! })[Symbol.asyncIterator]();
  info: Record<string, unknown> = {};
  async start(): Promise<void> {
    this.info = JSON.parse((await this.lines.next()).value);
  }
  async time(row: string, n: number): Promise<number[]> {
    this.child.stdin!.write(`${row} ${n}\n`);
    const r = await this.lines.next();
    if (r.done) throw new Error("the PyTorch reference exited; see its stderr above");
    return JSON.parse(r.value).ms;
  }
  stop(): void {
    this.child.stdin!.end();
  }
}

async function timeTfjs(runner: StepRunner, n: number): Promise<number[]> {
  const times: number[] = [];
  for (let s = 0; s < n; s++) {
    const t0 = performance.now();
    await runner.step();
    times.push(performance.now() - t0);
  }
  return times;
}

const info = await ready({ backend: "wasm" });
const torch = vsTorch ? new Torch() : undefined;
await torch?.start();
const modes = withStock ? (["fast", "stock"] as const) : (["fast"] as const);
type Mode = (typeof modes)[number] | "torch";
const results: Record<string, Partial<Record<Mode, number[]>>> = {};
const runners = new Map<string, StepRunner>();
for (const row of rows) {
  results[row.id] = {};
  const runner = makeRow(row, B);
  runners.set(row.id, runner);
  for (const mode of modes) {
    setWasmFastKernels(mode === "fast");
    await runner.step(); // warm-up: operator caches, allocations
  }
  if (torch) await torch.time(row.id, 1);
}
for (let r = 0; r < rounds; r++) {
  for (const row of rows) {
    const runner = runners.get(row.id)!;
    for (const mode of modes) {
      setWasmFastKernels(mode === "fast");
      (results[row.id][mode] ??= []).push(median(await timeTfjs(runner, mode === "stock" && row.size === "small" ? 1 : steps)));
    }
    if (torch) (results[row.id].torch ??= []).push(median(await torch.time(row.id, steps)));
  }
  process.stderr.write(`round ${r + 1}/${rounds}\n`);
}
torch?.stop();
setWasmFastKernels(true);

const table = rows.map((row) => {
  const runner = runners.get(row.id)!;
  const med = (m: Mode) => (results[row.id][m] ? median(results[row.id][m]!) : undefined);
  const fast = med("fast")!;
  const stock = med("stock");
  const pt = med("torch");
  return {
    row: row.id, label: row.label, tokens: runner.tokens, gflop: runner.flops / 1e9,
    fastMs: fast, stockMs: stock, torchMs: pt,
    fastTokensPerS: (runner.tokens / fast) * 1000, fastGflops: runner.flops / fast / 1e6,
    torchGflops: pt ? runner.flops / pt / 1e6 : undefined,
    // Median of per-round ratios: each round times both engines back to back, so load swings cancel.
    ratioVsTorch: pt ? median(results[row.id].fast!.map((f, i) => f / results[row.id].torch![i])) : undefined,
    stockRatioVsTorch: pt && stock ? median(results[row.id].stock!.map((f, i) => f / results[row.id].torch![i])) : undefined,
    speedupVsStock: stock ? stock / fast : undefined,
  };
});
for (const r of runners.values()) r.dispose();

const f = (x: number | undefined, d = 1) => (x === undefined ? "-" : x.toFixed(d));
const date = new Date().toISOString();
const header = `Training step, B=${B}, AdamW, median of ${rounds} interleaved rounds x ${steps} steps (${date}); ` +
  `tfjs ${info.version} wasm, matmul ${info.nativeBlas?.loaded ? `native OpenBLAS (${info.nativeBlas.threads} threads)` : "wasm/XNNPACK"}` +
  (torch ? `; PyTorch ${torch.info.torch}, ${torch.info.threads} threads` : "");
const md = [
  header, "",
  "| step | tfjs stock ms | lora-lab ms | tokens/s | GFLOP/s | PyTorch ms | ratio lora-lab / PyTorch | ratio stock / PyTorch |",
  "|---|---|---|---|---|---|---|---|",
  ...table.map((r) => `| ${r.label} | ${f(r.stockMs, 0)} | ${f(r.fastMs)} | ${f(r.fastTokensPerS, 0)} | ${f(r.fastGflops)} | ${f(r.torchMs)} | ${r.ratioVsTorch === undefined ? "-" : f(r.ratioVsTorch, 2) + "x"} | ${r.stockRatioVsTorch === undefined ? "-" : f(r.stockRatioVsTorch, 1) + "x"} |`),
].join("\n");
console.log(md);
const dir = new URL("./results/", import.meta.url).pathname;
mkdirSync(dir, { recursive: true });
const stamp = date.slice(0, 19).replace(/[:T]/g, "-");
writeFileSync(`${dir}train-step-${stamp}.json`, JSON.stringify({ date, batch: B, rounds, steps, engine: info, torch: torch?.info, rows: table, raw: results }, null, 2));
writeFileSync(`${dir}train-step-${stamp}.md`, md + "\n");
writeFileSync(`${dir}train-step-latest.md`, md + "\n");
console.log(`\nwritten: bench/results/train-step-${stamp}.{json,md}`);

