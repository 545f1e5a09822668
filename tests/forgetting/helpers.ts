import type { GPT2LMHeadModel } from "../../src/models/index.js";
import { gpt2, GPT2Config } from "../../src/models/index.js";
import { seed } from "../../src/engine/index.js";
import type { TokenBatch } from "../../src/train/index.js";

/** A tiny GPT-2 without dropout, so training is a deterministic function of weights and batches. */
export function tinyModel(s: number, nEmbd = 16): GPT2LMHeadModel {
  seed(s);
  return gpt2(new GPT2Config({ vocabSize: 64, nPositions: 16, nEmbd, nLayer: 2, nHead: 2, residPdrop: 0, embdPdrop: 0, attnPdrop: 0 }));
}

/** Token windows (T + 1 tokens) from a fixed LCG; `period` < 64 makes a learnable, distinct "domain". */
export function windows(n: number, T: number, s = 1, period = 64): Int32Array[] {
  let x = s;
  const next = () => ((x = (x * 1103515245 + 12345) % 2 ** 31), x % period);
  return Array.from({ length: n }, () => Int32Array.from({ length: T + 1 }, next));
}

/** Consecutive windows into [B, T] batches, in order. */
export function toBatches(ws: Int32Array[], B: number): TokenBatch[] {
  const T = ws[0].length - 1;
  const out: TokenBatch[] = [];
  for (let i = 0; i + B <= ws.length; i += B) {
    const inputIds = new Int32Array(B * T);
    const targets = new Int32Array(B * T);
    for (let b = 0; b < B; b++) {
      inputIds.set(ws[i + b].subarray(0, T), b * T);
      targets.set(ws[i + b].subarray(1), b * T);
    }
    out.push({ inputIds, targets, shape: [B, T] });
  }
  return out;
}

export function weightsOf(model: GPT2LMHeadModel): Map<string, Float32Array> {
  return new Map([...model.namedParameters()].map(([n, p]) => [n, p.variable.dataSync().slice() as Float32Array]));
}
