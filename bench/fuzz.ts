/**
 * Fuzzes the two parsers of untrusted bytes with generated malformed inputs (tests/fuzz/inputs.ts):
 * safetensors files and the kernel's wire messages, 10,000 of each by default. Prints how many were
 * rejected with each error, how many still parsed, every crash (an exception other than the
 * parser's own error, or an inconsistent parse) and the slowest input; exits 1 on any crash.
 *
 *   npx vite-node bench/fuzz.ts -- --count 10000 --seed 1
 */
import { parseArgs } from "node:util";
import { decodeOutcome, parseOutcome, safetensorsInput, wireInput, type FuzzOutcome } from "../tests/fuzz/inputs.js";

const { values } = parseArgs({
  options: { count: { type: "string", default: "10000" }, seed: { type: "string", default: "1" } },
  allowPositionals: true,
});
const count = Number(values.count);
const seed = Number(values.seed);
let crashed = 0;
for (const [name, make, outcome] of [
  ["safetensors", (i: number) => safetensorsInput(seed, i), parseOutcome],
  ["wire", (i: number) => wireInput(seed, i), decodeOutcome],
] as const) {
  const codes = new Map<string, number>();
  let parsed = 0;
  let slowest = { ms: 0, i: -1 };
  for (let i = 0; i < count; i++) {
    const input = make(i);
    const t = performance.now();
    const o: FuzzOutcome = (outcome as (x: unknown) => FuzzOutcome)(input);
    const ms = performance.now() - t;
    if (ms > slowest.ms) slowest = { ms, i };
    if (o.kind === "crashed") {
      crashed++;
      console.log(`${name} input ${i} (seed ${seed}) crashed: ${o.error}`);
    } else if (o.kind === "rejected") codes.set(o.code, (codes.get(o.code) ?? 0) + 1);
    else parsed++;
  }
  const rejected = [...codes.entries()].sort((a, b) => b[1] - a[1]);
  console.log(
    `${name}: ${count} inputs, ${parsed} still valid, ${count - parsed} rejected with ${rejected.length} distinct errors; slowest input ${slowest.i} took ${slowest.ms.toFixed(2)} ms`,
  );
  for (const [code, n] of rejected) console.log(`  ${String(n).padStart(6)}  ${code}`);
}
console.log(crashed === 0 ? "no crashes" : `${crashed} crashes`);
process.exit(crashed === 0 ? 0 : 1);
