/**
 * Greedy generation speed on the GPT-2 124M shape (lab.GPT2Config.preset("gpt2"), random weights),
 * batch 1, a 32-token prompt, 64 new tokens: lora-lab with the KV cache and without, then PyTorch
 * the same in the same run (bench/torch_generate.py, Debian python3-torch, a KV cache written
 * from the published architecture, as many threads as the native addon uses).
 * Run: npx vite-node bench/generate.ts [--no-torch]
 * Env: ROUNDS (3) cached runs, UNCACHED_ROUNDS (1), PROMPT (32), NEW (64), TORCH_THREADS (the addon's threads, else 2).
 */
import { spawnSync } from "node:child_process";
import { GPT2Config, gpt2, ready, seed } from "../src/index.js";

const rounds = Number(process.env.ROUNDS ?? 3);
const uncachedRounds = Number(process.env.UNCACHED_ROUNDS ?? 1);
const promptLength = Number(process.env.PROMPT ?? 32);
const newTokens = Number(process.env.NEW ?? 64);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rate = (seconds: number[]) => (newTokens / median(seconds)).toFixed(1);

const info = await ready();
seed(0);
const model = gpt2(GPT2Config.preset("gpt2"));
model.eval();
const prompt = Array.from({ length: promptLength }, (_, i) => (i * 7919) % model.config.vocabSize);

function time(useCache: boolean, n: number): number[] {
  const seconds: number[] = [];
  for (let i = 0; i < n; i++) {
    const start = performance.now();
    const out = model.generate(prompt, { maxNewTokens: newTokens, temperature: 0, useCache });
    seconds.push((performance.now() - start) / 1000);
    if (out[0].length !== promptLength + newTokens) throw new Error(`generate returned ${out[0].length} tokens`);
  }
  return seconds;
}

model.generate(prompt, { maxNewTokens: 4, temperature: 0 }); // warm-up
const cached = time(true, rounds);
const uncached = time(false, uncachedRounds);
const threads = process.env.TORCH_THREADS ?? String(info.nativeBlas?.threads ?? 2);
console.log(`lora-lab (${info.backend}, native addon ${info.nativeBlas?.loaded ? `${info.nativeBlas.threads} threads` : "off"}):`);
console.log(`  GPT-2 124M, batch 1, prompt ${promptLength}, ${newTokens} new tokens, greedy`);
console.log(`  with KV cache:    ${rate(cached)} tokens/s (median of ${rounds}: ${median(cached).toFixed(2)} s)`);
console.log(`  without KV cache: ${rate(uncached)} tokens/s (median of ${uncachedRounds}: ${median(uncached).toFixed(2)} s)`);

if (!process.argv.includes("--no-torch")) {
  const script = new URL("./torch_generate.py", import.meta.url).pathname;
  const args = [script, promptLength, newTokens, rounds, uncachedRounds].map(String);
  const run = spawnSync("/usr/bin/python3", args, {
    env: { ...process.env, OMP_WAIT_POLICY: "PASSIVE", TORCH_THREADS: threads },
    encoding: "utf8",
  });
  if (run.status !== 0) throw new Error(`bench/torch_generate.py failed: ${run.stderr}`);
  const torch = JSON.parse(run.stdout.trim().split("\n").pop()!) as {
    torch: string;
    threads: number;
    cached_s: number[];
    uncached_s: number[];
  };
  console.log(`PyTorch ${torch.torch} (${torch.threads} threads), same shape and lengths:`);
  console.log(`  with KV cache:    ${rate(torch.cached_s)} tokens/s (median ${median(torch.cached_s).toFixed(2)} s)`);
  console.log(`  without KV cache: ${rate(torch.uncached_s)} tokens/s (median ${median(torch.uncached_s).toFixed(2)} s)`);
}
