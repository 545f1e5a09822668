/**
 * The generation row of `npm run bench -- --real-scale` (issue 18): greedy tokens/s on the GPT-2
 * 124M shape with the KV cache and without, lora-lab's and PyTorch's, as bench/generate.ts
 * measures them (its settings: batch 1, prompt PROMPT, NEW new tokens, ROUNDS cached runs,
 * UNCACHED_ROUNDS uncached, PyTorch on as many threads as the native addon). That script is run
 * as it stands, in a process of its own (a heap the training rows have not grown), and its
 * report is read back here; its lines are echoed to stderr.
 */
import { spawn } from "node:child_process";
import { fileURLToPath } from "node:url";

const ROOT = fileURLToPath(new URL("..", import.meta.url));
const VITE_NODE = fileURLToPath(new URL("../node_modules/vite-node/vite-node.mjs", import.meta.url));
const SCRIPT = "bench/generate.ts";

export const GENERATION_ROW = { id: "gpt2-124m-generate", label: "generation, GPT-2 124M, greedy, batch 1" } as const;

export interface GenerationResult {
  /** The lengths line of bench/generate.ts ("GPT-2 124M, batch 1, prompt 32, 64 new tokens, greedy"). */
  setting: string;
  engine: string;
  torchEngine?: string;
  /** Tokens per second (median run). */
  cached: number;
  uncached: number;
  torchCached?: number;
  torchUncached?: number;
}

/** Runs bench/generate.ts (with `--no-torch` unless `vsTorch`) and reads its tokens/s. */
export async function runGeneration(vsTorch: boolean): Promise<GenerationResult> {
  const args = [VITE_NODE, SCRIPT, ...(vsTorch ? [] : ["--no-torch"])];
  const stdout = await new Promise<string>((done, fail) => {
    const child = spawn(process.execPath, args, { cwd: ROOT, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d;
      process.stderr.write(d);
    });
    child.on("error", fail);
    child.on("close", (code) => (code === 0 ? done(out) : fail(new Error(`${SCRIPT} exited with ${code}; its output is above`))));
  });
  return parseGeneration(stdout, vsTorch);
}

/**
 * bench/generate.ts's report: an engine line ("lora-lab (...):", then "PyTorch ... :"), the
 * lengths line, and per engine a "with KV cache: N tokens/s" and a "without KV cache: N tokens/s" line.
 */
export function parseGeneration(text: string, vsTorch: boolean): GenerationResult {
  const rates = (label: string) => [...text.matchAll(new RegExp(`^\\s*${label}:\\s+([0-9.]+) tokens/s`, "gm"))].map((m) => Number(m[1]));
  const cached = rates("with KV cache");
  const uncached = rates("without KV cache");
  const engines = [...text.matchAll(/^(lora-lab|PyTorch)\b(.*):\s*$/gm)].map((m) => (m[1] + m[2]).trim());
  const setting = /^\s*(GPT-2 .*)$/m.exec(text)?.[1].trim();
  const want = vsTorch ? 2 : 1;
  if (cached.length !== want || uncached.length !== want || engines.length !== want || !setting) {
    throw new Error(
      `${SCRIPT}: expected ${want} engine(s) each with "with KV cache: N tokens/s" and "without KV cache: N tokens/s" lines ` +
        `and a "GPT-2 ..." settings line; got ${cached.length} cached, ${uncached.length} uncached, ${engines.length} engine line(s) in:\n${text}`,
    );
  }
  return {
    setting,
    engine: engines[0],
    torchEngine: engines[1],
    cached: cached[0],
    uncached: uncached[0],
    torchCached: cached[1],
    torchUncached: uncached[1],
  };
}

/** The generation table: tokens/s of both engines and their ratio (above 1: lora-lab is faster). */
export function generationMarkdown(g: GenerationResult): string {
  const f = (x: number | undefined) => (x === undefined ? "-" : x.toFixed(1));
  const ratio = (a: number, b: number | undefined) => (b === undefined ? "-" : `${(a / b).toFixed(2)}x`);
  return [
    `Generation (bench/generate.ts): ${g.setting}; ${g.engine}${g.torchEngine ? `; ${g.torchEngine}` : ""}`,
    "",
    "| generation, GPT-2 124M | lora-lab tokens/s | PyTorch tokens/s | lora-lab / PyTorch tokens/s (above 1: faster) |",
    "|---|---|---|---|",
    `| greedy, with KV cache | ${f(g.cached)} | ${f(g.torchCached)} | ${ratio(g.cached, g.torchCached)} |`,
    `| greedy, without KV cache | ${f(g.uncached)} | ${f(g.torchUncached)} | ${ratio(g.uncached, g.torchUncached)} |`,
  ].join("\n");
}
