import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { gpt2, GPT2Config } from "../../src/models/index.js";
import { train, type StepEvent, type TokenBatch } from "../../src/train/index.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

/** Repeating byte patterns, so the loss falls quickly. */
function batches(n: number, B: number, T: number): TokenBatch[] {
  return Array.from({ length: n }, (_, k) => {
    const ids = Int32Array.from({ length: B * (T + 1) }, (_, i) => (((i + k) % 7) * 11 + 3) % 64);
    const inputIds = new Int32Array(B * T);
    const targets = new Int32Array(B * T);
    for (let b = 0; b < B; b++)
      for (let t = 0; t < T; t++) ((inputIds[b * T + t] = ids[b * (T + 1) + t]), (targets[b * T + t] = ids[b * (T + 1) + t + 1]));
    return { inputIds, targets, shape: [B, T] as [number, number] };
  });
}

async function losses(optimizer: "adamw" | "adamw8bit" | "paged_adamw" | "paged_adamw8bit", budget?: number): Promise<number[]> {
  seed(0);
  // nEmbd 64: the MLP weights have 16,384 elements, so they get 8-bit states.
  const model = gpt2(
    new GPT2Config({ vocabSize: 64, nPositions: 16, nEmbd: 64, nLayer: 2, nHead: 2, residPdrop: 0, embdPdrop: 0, attnPdrop: 0 }),
  );
  const result = await train(model, {
    data: batches(4, 2, 16),
    steps: 30,
    lr: 3e-3,
    optimizer,
    optimizerBudgetBytes: budget,
    progress: false,
  });
  for (const p of model.namedParameters().values()) p.variable.dispose();
  return result.events.filter((e): e is StepEvent => e.type === "step").map((e) => e.loss);
}

describe("train({ optimizer })", () => {
  it("trains with each AdamW variant: paged_adamw equals adamw, the 8-bit ones stay within 2% of its losses over 30 steps", async () => {
    const tensors = tf.memory().numTensors;
    const float = await losses("adamw");
    const paged = await losses("paged_adamw", 2_000_000);
    const eight = await losses("adamw8bit");
    const paged8 = await losses("paged_adamw8bit", 2_000_000);
    expect(tf.memory().numTensors).toBe(tensors);
    const worst = (a: number[]) => Math.max(...a.map((l, i) => Math.abs(l - float[i]) / float[i]));
    if (process.env.LORA_LAB_REPORT)
      console.log(
        `train 30 steps: adamw loss ${float[0].toFixed(3)} -> ${float[29].toFixed(3)}; max rel diff paged ${worst(paged).toExponential(2)}, 8-bit ${worst(eight).toExponential(2)}, paged 8-bit ${worst(paged8).toExponential(2)}`,
      );
    expect(float[29]).toBeLessThan(0.5 * float[0]);
    expect(worst(paged)).toBeLessThan(1e-5);
    expect(worst(eight)).toBeLessThan(0.02);
    expect(worst(paged8)).toBeLessThan(0.02);
  });

  it("rejects an unknown optimizer and a budget for a non-paged one, naming the choices", async () => {
    const model = gpt2(GPT2Config.preset("tiny"));
    await expect(train(model, { data: batches(1, 1, 8), steps: 1, optimizer: "sgd" as never })).rejects.toThrow(
      /unknown optimizer "sgd"; available: adamw, adamw8bit, paged_adamw, paged_adamw8bit/,
    );
    await expect(train(model, { data: batches(1, 1, 8), steps: 1, optimizer: "adamw8bit", optimizerBudgetBytes: 1e6 })).rejects.toThrow(
      /optimizerBudgetBytes needs optimizer "paged_adamw" or "paged_adamw8bit"/,
    );
    for (const p of model.namedParameters().values()) p.variable.dispose();
  });
});
