/**
 * Training-step time (forward, backward, AdamW; B=8) of the tiny and small GPT-2, full fine-tuning
 * and LoRA, on the wasm backend with lora-lab's kernels ("fast") and with tfjs-backend-wasm's own
 * ("stock"), and with --vs-torch the same step in PyTorch (bench/torch_step.py, Debian
 * python3-torch, OMP_WAIT_POLICY=PASSIVE, 2 threads) timed interleaved in the same run.
 * Rows (bench/rows.ts): tiny / small GPT full, LoRA, QLoRA; tiny T5 full and LoRA.
 * With --extras, also the kernel's cold start, a widget's comm round trip and `npm start`'s demo
 * (bench/extras.ts; minutes, needs `npm run build`); --extras-only skips the training rows, --no-demo the demo.
 * With --real-scale, instead, issue 18's rows (bench/rows.ts REAL_SCALE_ROWS: GPT-2 124M at batch
 * 4 x 128, full with gradient checkpointing on both sides, LoRA and QLoRA in the article's
 * configuration; one model at a time, lora-lab's kernels only, the PyTorch full row also timed
 * without checkpointing), issue 20's SmolLM2-135M LoRA row (r8 q_proj, v_proj) and the generation
 * row (bench/generation-row.ts runs bench/generate.ts).
 * Run: npm run bench [-- --vs-torch] [--rows tiny-full,small-lora,t5-tiny-lora] [--no-stock] [--extras]
 *      npm run bench -- --vs-torch --real-scale   (--rows picks among these too: gpt2-124m-{full,lora,qlora,generate}, smollm2-135m-lora)
 * Env: ROUNDS (5; real scale 3), STEPS per round (3; real scale 1), BATCH (8, the toy rows).
 * Writes bench/results/train-step-<date>.{json,md} (real-scale rows only: real-scale-<date>).
 */
import { spawn } from "node:child_process";
import { mkdirSync, writeFileSync } from "node:fs";
import { createInterface } from "node:readline";
import { ready, setWasmFastKernels } from "../src/engine/index.js";
import { MemoryPlanError, describePlan } from "../src/train/index.js";
import { extrasMarkdown, runExtras, type ExtrasResult } from "./extras.js";
import { GENERATION_ROW, generationMarkdown, runGeneration, type GenerationResult } from "./generation-row.js";
import { makeRow, REAL_SCALE_ROWS, ROWS, rowShape, type Row, type StepRunner } from "./rows.js";

const argv = process.argv.slice(2);
const vsTorch = argv.includes("--vs-torch");
const withStock = !argv.includes("--no-stock");
const rowArg = argv.indexOf("--rows");
const extrasOnly = argv.includes("--extras-only");
const withExtras = extrasOnly || argv.includes("--extras");
const realScale = argv.includes("--real-scale");
const known = [...ROWS, ...REAL_SCALE_ROWS, GENERATION_ROW].map((r) => r.id);
const picked = extrasOnly
  ? []
  : rowArg >= 0
    ? (argv[rowArg + 1] ?? "").split(",").map((id) => (known.includes(id) ? id : fail(id)))
    : realScale
      ? [...REAL_SCALE_ROWS, GENERATION_ROW].map((r) => r.id)
      : ROWS.map((r) => r.id);
const rows: Row[] = ROWS.filter((r) => picked.includes(r.id));
const realRows: Row[] = REAL_SCALE_ROWS.filter((r) => picked.includes(r.id));
const withGeneration = picked.includes(GENERATION_ROW.id);
const rounds = Number(process.env.ROUNDS ?? 5);
const steps = Number(process.env.STEPS ?? 3);
const realRounds = Number(process.env.ROUNDS ?? 3);
const realSteps = Number(process.env.STEPS ?? 1);
const B = Number(process.env.BATCH ?? 8);

function fail(id: string): never {
  throw new Error(`unknown row "${id}"; rows: ${known.join(", ")}`);
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
  /** `n` timed steps of `row` (`id` sends another id for the same row, as the -nockpt variant); the first request also builds it and takes a warm-up step. */
  async run(row: Row, n: number, id = row.id): Promise<TorchReply> {
    const { batch, seq } = rowShape(row, B);
    return JSON.parse(await this.ask(`${id} ${n} ${batch} ${seq}`)) as TorchReply;
  }
  async time(row: Row, n: number, id = row.id): Promise<number[]> {
    return (await this.run(row, n, id)).ms;
  }
  /** Drops the row's model (the real-scale ones are large). */
  async free(row: Row): Promise<void> {
    await this.ask(`free ${row.id}`);
  }
  private async ask(line: string): Promise<string> {
    this.child.stdin!.write(`${line}\n`);
    const r = await this.lines.next();
    if (r.done) throw new Error("the PyTorch reference exited; see its stderr above");
    return r.value;
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
    const t = await torch.run(row, 1);
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
    if (torch) (results[row.id].torch ??= []).push(median(await torch.time(row, steps)));
  }
  process.stderr.write(`round ${r + 1}/${rounds}\n`);
}
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

/** One real-scale row's result (a refused row has only its plan's total and the refusal). */
interface RealScaleResult {
  row: string;
  label: string;
  batch: number;
  seq: number;
  /** Why the row did not run (the memory plan's refusal). */
  refused?: string;
  planGiB?: number;
  tokens?: number;
  gflop?: number;
  loss?: number;
  parameters?: number;
  trainable?: number;
  torchLoss?: number;
  torchParameters?: number;
  torchTrainable?: number;
  fastMs?: number;
  torchMs?: number;
  torchNoCheckpointingMs?: number;
  fastTokensPerS?: number;
  fastGflops?: number;
  ratioVsTorch?: number;
  ratioVsTorchNoCheckpointing?: number;
  raw?: { fast: number[]; torch?: number[]; torchNoCheckpointing?: number[] };
}
/**
 * The real-scale rows, one model at a time (two 124M models with their AdamW states would not fit
 * the wasm heap together): build (the memory plan refuses what will not fit), one warm-up step on
 * each side, then rounds of lora-lab's steps and PyTorch's timed back to back; the checkpointed
 * PyTorch row is also timed without checkpointing in each round.
 */
const realTable: RealScaleResult[] = [];
for (const row of realRows) {
  const { batch, seq } = rowShape(row, B);
  const entry: RealScaleResult = { row: row.id, label: row.label, batch, seq };
  realTable.push(entry);
  let runner: StepRunner;
  try {
    runner = makeRow(row, B);
  } catch (err) {
    if (!(err instanceof MemoryPlanError)) throw err;
    Object.assign(entry, { refused: err.message, planGiB: err.plan.total / 2 ** 30 });
    process.stderr.write(`${row.id}: refused by the memory plan:\n${err.message}\n`);
    continue;
  }
  process.stderr.write(`${row.id}: ${describePlan(runner.plan)}\n`);
  Object.assign(entry, {
    planGiB: runner.plan.total / 2 ** 30,
    tokens: runner.tokens,
    gflop: runner.flops / 1e9,
    parameters: runner.parameters,
    trainable: runner.trainable,
  });
  entry.loss = await runner.step(); // warm-up
  const noCheckpointing = `${row.id}-nockpt`;
  if (torch) {
    const t = await torch.run(row, 0);
    Object.assign(entry, { torchLoss: t.firstLoss ?? t.loss, torchParameters: t.params, torchTrainable: t.trainable });
    if (row.checkpointing) await torch.run(row, 0, noCheckpointing);
  }
  process.stderr.write(
    `${row.id}: ${entry.parameters} parameters, ${entry.trainable} trained; first loss ${entry.loss.toFixed(4)}` +
      (entry.torchLoss === undefined ? "" : ` (PyTorch ${entry.torchParameters}, ${entry.torchTrainable}; ${entry.torchLoss.toFixed(4)})`) +
      "\n",
  );
  if (torch && (entry.torchParameters !== entry.parameters || entry.torchTrainable !== entry.trainable)) {
    process.stderr.write(`warning: ${row.id}: the two engines count different parameters\n`);
  }
  const raw: NonNullable<RealScaleResult["raw"]> = { fast: [] };
  for (let r = 0; r < realRounds; r++) {
    raw.fast.push(median(await timeTfjs(runner, realSteps)));
    if (torch) (raw.torch ??= []).push(median(await torch.time(row, realSteps)));
    if (torch && row.checkpointing) (raw.torchNoCheckpointing ??= []).push(median(await torch.time(row, realSteps, noCheckpointing)));
    process.stderr.write(
      `${row.id}: round ${r + 1}/${realRounds}, lora-lab ${raw.fast[r].toFixed(0)} ms` +
        (raw.torch ? `, PyTorch ${raw.torch[r].toFixed(0)} ms` : "") +
        (raw.torchNoCheckpointing ? ` (without checkpointing ${raw.torchNoCheckpointing[r].toFixed(0)} ms)` : "") +
        "\n",
    );
  }
  runner.dispose();
  await torch?.free(row);
  const fast = median(raw.fast);
  // Median of per-round ratios, as the toy rows.
  const ratio = (other?: number[]) => (other ? median(raw.fast.map((x, i) => x / other[i])) : undefined);
  Object.assign(entry, {
    fastMs: fast,
    torchMs: raw.torch && median(raw.torch),
    torchNoCheckpointingMs: raw.torchNoCheckpointing && median(raw.torchNoCheckpointing),
    fastTokensPerS: (runner.tokens / fast) * 1000,
    fastGflops: runner.flops / fast / 1e6,
    ratioVsTorch: ratio(raw.torch),
    ratioVsTorchNoCheckpointing: ratio(raw.torchNoCheckpointing),
    raw,
  });
}
torch?.stop();
// In a process of its own, once the training rows' models are gone.
const generation: GenerationResult | undefined = withGeneration ? await runGeneration(vsTorch) : undefined;

const f = (x: number | undefined, d = 1) => (x === undefined ? "-" : x.toFixed(d));
const date = new Date().toISOString();
const header =
  `Training step, B=${B}, AdamW, median of ${rounds} interleaved rounds x ${steps} steps (${date}); ` +
  `tfjs ${info.version} wasm, matmul ${info.nativeBlas?.loaded ? `native OpenBLAS (${info.nativeBlas.threads} threads)` : "wasm/XNNPACK"}` +
  (torch ? `; PyTorch ${torch.info.torch}, ${torch.info.threads} threads` : "");
const x = (r: number | undefined) => (r === undefined ? "-" : f(r, 2) + "x");
const realHeader =
  `Real scale: GPT-2 124M (GPT2Config.preset("gpt2"), dropout 0) and SmolLM2-135M (LlamaConfig.preset("smollm2-135m")), random weights, AdamW (lr 1e-4, weight decay 0.01), ` +
  `1 warm-up step then the median of ${realRounds} interleaved rounds x ${realSteps} steps (${date}); ` +
  `tfjs ${info.version} wasm, matmul ${info.nativeBlas?.loaded ? `native OpenBLAS (${info.nativeBlas.threads} threads)` : "wasm/XNNPACK"}` +
  (torch ? `; PyTorch ${torch.info.torch}, ${torch.info.threads} threads` : "");
const realMd = [
  realHeader,
  "",
  "| step (AdamW) | batch | lora-lab ms | tokens/s | GFLOP/s | PyTorch ms | lora-lab / PyTorch | PyTorch without checkpointing ms | lora-lab / PyTorch without checkpointing |",
  "|---|---|---|---|---|---|---|---|---|",
  ...realTable.map((r) =>
    r.refused
      ? `| ${r.label} | ${r.batch} x ${r.seq} | refused by the memory plan (${f(r.planGiB, 2)} GiB) | - | - | - | - | - | - |`
      : `| ${r.label} | ${r.batch} x ${r.seq} | ${f(r.fastMs, 0)} | ${f(r.fastTokensPerS, 0)} | ${f(r.fastGflops)} | ${f(r.torchMs, 0)} | ${x(r.ratioVsTorch)} | ${f(r.torchNoCheckpointingMs, 0)} | ${x(r.ratioVsTorchNoCheckpointing)} |`,
  ),
].join("\n");
const sections: string[] = [];
if (rows.length)
  sections.push(
    [
      header,
      "",
      "| step | tfjs stock ms | lora-lab ms | tokens/s | GFLOP/s | PyTorch ms | ratio lora-lab / PyTorch | ratio stock / PyTorch |",
      "|---|---|---|---|---|---|---|---|",
      ...table.map(
        (r) =>
          `| ${r.label} | ${f(r.stockMs, 0)} | ${f(r.fastMs)} | ${f(r.fastTokensPerS, 0)} | ${f(r.fastGflops)} | ${f(r.torchMs)} | ${r.ratioVsTorch === undefined ? "-" : f(r.ratioVsTorch, 2) + "x"} | ${r.stockRatioVsTorch === undefined ? "-" : f(r.stockRatioVsTorch, 1) + "x"} |`,
      ),
    ].join("\n"),
  );
if (realTable.length) sections.push(realMd);
if (generation) sections.push(generationMarkdown(generation));
let extras: ExtrasResult | undefined;
if (withExtras) {
  extras = await runExtras({ demo: !argv.includes("--no-demo") });
  sections.push(extrasMarkdown(extras));
}
const md = sections.join("\n\n");
console.log(md);
const dir = new URL("./results/", import.meta.url).pathname;
mkdirSync(dir, { recursive: true });
const stamp = date.slice(0, 19).replace(/[:T]/g, "-");
// A run of the real-scale rows alone has files of its own, so train-step-latest.md stays the toy rows' table.
const name = rows.length || withExtras ? "train-step" : "real-scale";
writeFileSync(
  `${dir}${name}-${stamp}.json`,
  JSON.stringify(
    {
      date,
      batch: B,
      rounds,
      steps,
      engine: info,
      torch: torch?.info,
      rows: table,
      raw: results,
      realScale: realTable.length || generation ? { rounds: realRounds, steps: realSteps, rows: realTable, generation } : undefined,
      extras: extras?.rows,
    },
    null,
    2,
  ),
);
writeFileSync(`${dir}${name}-${stamp}.md`, md + "\n");
writeFileSync(`${dir}${name}-latest.md`, md + "\n");
console.log(`\nwritten: bench/results/${name}-${stamp}.{json,md}`);
