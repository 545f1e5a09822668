import { beforeAll, describe, expect, it } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { gpt2, GPT2Config } from "../../src/models/index.js";
import { HOST_SIGNAL, train, type TokenBatch } from "../../src/train/index.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

function model() {
  seed(0);
  return gpt2(new GPT2Config({ vocabSize: 32, nPositions: 8, nEmbd: 8, nLayer: 1, nHead: 2, residPdrop: 0, embdPdrop: 0, attnPdrop: 0 }));
}

function batch(): TokenBatch {
  const inputIds = Int32Array.from({ length: 16 }, (_, i) => (i * 7) % 32);
  const targets = Int32Array.from({ length: 16 }, (_, i) => (i * 7 + 1) % 32);
  return { inputIds, targets, shape: [2, 8] };
}

function* endless(): Generator<TokenBatch> {
  for (;;) yield batch();
}

describe("train() control hooks", () => {
  it("train({beforeStep}) awaits the hook before every step and holds the loop while it is pending", async () => {
    const calls: number[] = [];
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let reachedHold!: () => void;
    const atHold = new Promise<void>((r) => (reachedHold = r));
    let stepsSeen = 0;
    const run = train(model(), {
      data: endless(),
      steps: 4,
      lr: 1e-3,
      onEvent: (e) => {
        if (e.type === "step") stepsSeen = e.step;
      },
      beforeStep: async (step) => {
        calls.push(step);
        if (step === 2) {
          reachedHold();
          await held;
        }
      },
    });
    // Wait for the hook itself, not for a time that a loaded machine may not keep.
    await atHold;
    expect(stepsSeen).toBe(2);
    // Paused before the third step: however long the hook takes, no step runs meanwhile.
    await new Promise((r) => setTimeout(r, 100));
    expect(stepsSeen).toBe(2);
    expect(calls).toEqual([0, 1, 2]);
    release();
    const result = await run;
    expect(result.steps).toBe(4);
    expect(calls).toEqual([0, 1, 2, 3]);
  });

  it("train() stops after the current step when the host's process-wide signal aborts", async () => {
    const host = new AbortController();
    (globalThis as Record<symbol, unknown>)[HOST_SIGNAL] = host.signal;
    try {
      const result = await train(model(), {
        data: endless(),
        steps: 50,
        lr: 1e-3,
        onEvent: (e) => {
          if (e.type === "step" && e.step === 3) host.abort();
        },
      });
      expect(result).toMatchObject({ steps: 3, aborted: true });
    } finally {
      delete (globalThis as Record<symbol, unknown>)[HOST_SIGNAL];
    }
  });

  it("train() with an already-aborted host signal runs no step", async () => {
    const host = new AbortController();
    host.abort();
    (globalThis as Record<symbol, unknown>)[HOST_SIGNAL] = host.signal;
    try {
      expect(await train(model(), { data: endless(), steps: 3, lr: 1e-3 })).toMatchObject({ steps: 0, aborted: true });
    } finally {
      delete (globalThis as Record<symbol, unknown>)[HOST_SIGNAL];
    }
  });
});
