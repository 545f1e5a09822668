/**
 * Per-kernel time of one training step (tf.profile). The machine may be busy, so each kernel call
 * gets the minimum over several profiled steps (the call sequence is the same every step).
 * Run: npx vite-node bench/profile.ts [row-id] [--stock]   (env SHAPES=1 lists shapes, PROFILE_STEPS)
 */
import * as tf from "@tensorflow/tfjs";
import { ready, setWasmFastKernels } from "../src/engine/index.js";
import { makeRow, ROWS } from "./rows.js";

await ready({ backend: "wasm" });
const args = process.argv.slice(2).filter((a) => a !== "--");
const id = args.find((a) => !a.startsWith("--")) ?? "tiny-full";
if (args.includes("--stock")) setWasmFastKernels(false);
const runner = makeRow(ROWS.find((r) => r.id === id)!);
await runner.step();
const n = Number(process.env.PROFILE_STEPS ?? 5);
let calls: { name: string; shapes: string; ms: number }[] = [];
const walls: number[] = [];
for (let s = 0; s < n; s++) {
  const t0 = performance.now();
  const info = await tf.profile(() => runner.step());
  walls.push(performance.now() - t0);
  const now = info.kernels.map((k) => ({
    name: k.name,
    shapes: k.inputShapes.map((x) => `[${x}]`).join(" "),
    ms: k.kernelTimeMs as number,
  }));
  calls = s === 0 ? now : calls.map((c, i) => ({ ...c, ms: Math.min(c.ms, now[i]?.ms ?? Infinity) }));
}
const by = new Map<string, { ms: number; n: number; shapes: Map<string, number> }>();
for (const k of calls) {
  const e = by.get(k.name) ?? { ms: 0, n: 0, shapes: new Map() };
  e.ms += k.ms;
  e.n++;
  e.shapes.set(k.shapes, (e.shapes.get(k.shapes) ?? 0) + k.ms);
  by.set(k.name, e);
}
const total = [...by.values()].reduce((a, e) => a + e.ms, 0);
console.log(
  `${id}: profiled wall min ${Math.min(...walls).toFixed(0)} ms; kernel sum (min per call) ${total.toFixed(1)} ms; ${calls.length} kernel calls`,
);
for (const [name, e] of [...by.entries()].sort((a, b) => b[1].ms - a[1].ms).slice(0, 22)) {
  console.log(`${name.padEnd(22)} ${e.ms.toFixed(2).padStart(8)} ms ${String(e.n).padStart(5)} calls`);
  if (process.env.SHAPES)
    for (const [s, ms] of [...e.shapes.entries()].sort((a, b) => b[1] - a[1]).slice(0, 4))
      console.log(`      ${ms.toFixed(2).padStart(7)} ${s}`);
}
