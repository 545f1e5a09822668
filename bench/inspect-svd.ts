// One-shot timing: LoRA (768 x 768, r 16) inspection via QR + r x r SVD vs a dense 768 x 2304 SVD.
// Run: npx vite-node bench/inspect-svd.ts
import { denseSingularValues, lowRankSingularValues } from "../src/inspect/index.js";

const rand = (n: number) => Float64Array.from({ length: n }, () => Math.random() - 0.5);
const B = { rows: 768, cols: 16, data: rand(768 * 16) };
const A = { rows: 16, cols: 768, data: rand(16 * 768) };
lowRankSingularValues(B, A, 2); // warm-up
let t = performance.now();
lowRankSingularValues(B, A, 2);
console.log(`LoRA 768x768 r=16 (QR + 16x16 SVD): ${(performance.now() - t).toFixed(1)} ms`);
t = performance.now();
denseSingularValues({ rows: 768, cols: 2304, data: rand(768 * 2304) });
console.log(`dense 768x2304 SVD: ${((performance.now() - t) / 1000).toFixed(2)} s`);
