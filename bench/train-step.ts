/**
 * Training-step time (forward, backward, AdamW; B=8) of the tiny and small GPT-2, full fine-tuning
 * and LoRA, on the wasm backend with lora-lab's kernels ("fast") and with tfjs-backend-wasm's own
 * ("stock"), and with --vs-torch the same step in PyTorch (bench/torch_step.py, Debian
 * python3-torch, OMP_WAIT_POLICY=PASSIVE, 2 threads) timed interleaved in the same run.
 * Rows (bench/rows.ts): tiny / small GPT full, LoRA, QLoRA; tiny T5 full and LoRA.
 * With --extras, also the kernel's cold start, a widget's comm round trip and `npm start`'s demo
 * (bench/extras.ts; minutes, needs `npm run build`); --extras-only skips the training rows, --no-demo the demo.
 * Run: npm run bench [-- --vs-torch] [--rows tiny-full,small-lora,t5-tiny-lora] [--no-stock] [--extras]
 * Env: ROUNDS (5), STEPS per round (3), BATCH (8). Writes bench/results/train-step-<date>.{json,md}.
 */
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { ready, setWasmFastKernels } from "../src/engine/index.js";
import { extrasMarkdown, runExtras, type ExtrasResult } from "./extras.js";
import { makeRow, ROWS, type Row, type StepRunner } from "./rows.js";

const argv = process.argv.slice(2);
const vsTorch = argv.includes("--vs-torch");
const withStock = !argv.includes("--no-stock");
const rowArg = argv.indexOf("--rows");
const extrasOnly = argv.includes("--extras-only");
const withExtras = extrasOnly || argv.includes("--extras");
const rows: Row[] = extrasOnly
  ? []
  : rowArg >= 0
    ? (argv[rowArg + 1] ?? "").split(",").map((id) => ROWS.find((r) => r.id === id) ?? fail(id))
    : ROWS;
const rounds = Number(process.env.ROUNDS ?? 5);
const steps = Number(process.env.STEPS ?? 3);
const B = Number(process.env.BATCH ?? 8);

function fail(id: string): never {
  throw new Error(`unknown row "${id}"; rows: ${ROWS.map((r) => r.id).join(", ")}`);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

interface TorchReply {
  ms: number[];
  loss: number;
  firstLoss: number | null;
  params: number;
  trainable: number;
}

/** PyTorch as a long-lived child answering "ROW STEPS" with per-step times (and its loss and parameter counts). */
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
  async run(row: string, n: number): Promise<TorchReply> {
    this.child.stdin!.write(`${row} ${n}\n`);
    const r = await this.lines.next();
    if (r.done) throw new Error("the PyTorch reference exited; see its stderr above");
    return JSON.parse(r.value) as TorchReply;
  }
  async time(row: string, n: number): Promise<number[]> {
    return (await this.run(row, n)).ms;
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
/** First-step losses and parameter counts of both engines: the same model should have the same count and a loss near ln(V) at init. */
const checks: Record<
  string,
  { loss: number; parameters: number; trainable: number; torchLoss?: number; torchParameters?: number; torchTrainable?: number }
> = {};
for (const row of rows) {
  results[row.id] = {};
  const runner = makeRow(row, B);
  runners.set(row.id, runner);
  let loss = NaN;
  for (const mode of modes) {
    setWasmFastKernels(mode === "fast");
    const l = await runner.step(); // warm-up: operator caches, allocations
    if (Number.isNaN(loss)) loss = l;
  }
  checks[row.id] = { loss, parameters: runner.parameters, trainable: runner.trainable };
  if (torch) {
    const t = await torch.run(row.id, 1);
    Object.assign(checks[row.id], { torchLoss: t.firstLoss ?? t.loss, torchParameters: t.params, torchTrainable: t.trainable });
    if (t.params !== runner.parameters || t.trainable !== runner.trainable) {
      process.stderr.write(
        `warning: ${row.id}: lora-lab has ${runner.parameters} parameters (${runner.trainable} trained), PyTorch ${t.params} (${t.trainable})\n`,
      );
    }
  }
  const c = checks[row.id];
  process.stderr.write(
    `${row.id}: ${c.parameters} parameters, ${c.trainable} trained; first loss ${c.loss.toFixed(4)}` +
      (c.torchLoss === undefined ? "" : ` (PyTorch ${c.torchParameters}, ${c.torchTrainable}; ${c.torchLoss.toFixed(4)})`) +
      "\n",
  );
}
for (let r = 0; r < (rows.length ? rounds : 0); r++) {
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
    row: row.id,
    label: row.label,
    tokens: runner.tokens,
    gflop: runner.flops / 1e9,
    ...checks[row.id],
    fastMs: fast,
    stockMs: stock,
    torchMs: pt,
    fastTokensPerS: (runner.tokens / fast) * 1000,
    fastGflops: runner.flops / fast / 1e6,
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
const header =
  `Training step, B=${B}, AdamW, median of ${rounds} interleaved rounds x ${steps} steps (${date}); ` +
  `tfjs ${info.version} wasm, matmul ${info.nativeBlas?.loaded ? `native OpenBLAS (${info.nativeBlas.threads} threads)` : "wasm/XNNPACK"}` +
  (torch ? `; PyTorch ${torch.info.torch}, ${torch.info.threads} threads` : "");
let md = [
  header,
  "",
  "| step | tfjs stock ms | lora-lab ms | tokens/s | GFLOP/s | PyTorch ms | ratio lora-lab / PyTorch | ratio stock / PyTorch |",
  "|---|---|---|---|---|---|---|---|",
  ...table.map(
    (r) =>
      `| ${r.label} | ${f(r.stockMs, 0)} | ${f(r.fastMs)} | ${f(r.fastTokensPerS, 0)} | ${f(r.fastGflops)} | ${f(r.torchMs)} | ${r.ratioVsTorch === undefined ? "-" : f(r.ratioVsTorch, 2) + "x"} | ${r.stockRatioVsTorch === undefined ? "-" : f(r.stockRatioVsTorch, 1) + "x"} |`,
  ),
].join("\n");
let extras: ExtrasResult | undefined;
if (withExtras) {
  extras = await runExtras({ demo: !argv.includes("--no-demo") });
  md = (rows.length ? md + "\n\n" : "") + extrasMarkdown(extras);
}
console.log(md);
const dir = new URL("./results/", import.meta.url).pathname;
mkdirSync(dir, { recursive: true });
const stamp = date.slice(0, 19).replace(/[:T]/g, "-");
writeFileSync(
  `${dir}train-step-${stamp}.json`,
  JSON.stringify(
    { date, batch: B, rounds, steps, engine: info, torch: torch?.info, rows: table, raw: results, extras: extras?.rows },
    null,
    2,
  ),
);
writeFileSync(`${dir}train-step-${stamp}.md`, md + "\n");
writeFileSync(`${dir}train-step-latest.md`, md + "\n");
console.log(`\nwritten: bench/results/train-step-${stamp}.{json,md}`);
