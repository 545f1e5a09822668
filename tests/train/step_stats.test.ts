/**
 * tokensPerSecond on step events, against a figure computed here: tokens counted from the batches
 * the test feeds, time from a fake clock (vitest's fake `performance`) that only the model's loss
 * advances, by a known amount per micro-step. No real time is measured or asserted.
 */
import * as tf from "@tensorflow/tfjs";
import { afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { gpt2, GPT2Config } from "../../src/models/index.js";
import { ProgressBar } from "../../src/train/progress.js";
import { train, type StepEvent, type TokenBatch, type TrainableModel } from "../../src/train/index.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

afterEach(() => {
  vi.useRealTimers();
});

/** Token batches of the given [B, T] shapes over a 32-token vocabulary. */
function batches(shapes: [number, number][]): TokenBatch[] {
  let x = 7;
  const next = () => ((x = (x * 1103515245 + 12345) % 2 ** 31), x % 32);
  return shapes.map(([B, T]) => ({
    inputIds: Int32Array.from({ length: B * T }, next),
    targets: Int32Array.from({ length: B * T }, next),
    shape: [B, T],
  }));
}

/** A tiny GPT-2 whose every loss() call moves the fake clock by `msPerMicroStep`. */
function clockedModel(msPerMicroStep: number): TrainableModel & { dispose(): void } {
  seed(0);
  const model = gpt2(
    new GPT2Config({ vocabSize: 32, nPositions: 16, nEmbd: 8, nLayer: 1, nHead: 2, residPdrop: 0, embdPdrop: 0, attnPdrop: 0 }),
  );
  return {
    loss: (ids, targets) => {
      vi.advanceTimersByTime(msPerMicroStep);
      return model.loss(ids, targets);
    },
    namedParameters: () => model.namedParameters(),
    train: (mode) => model.train(mode),
    dispose: () => model.dispose(),
  };
}

async function stepEvents(shapes: [number, number][], msPerMicroStep: number, gradientAccumulationSteps: number): Promise<StepEvent[]> {
  vi.useFakeTimers({ toFake: ["performance"] });
  const model = clockedModel(msPerMicroStep);
  const data = batches(shapes);
  const { events } = await train(model, {
    data,
    steps: shapes.length / gradientAccumulationSteps,
    lr: 1e-3,
    gradientAccumulationSteps,
    progress: false,
  });
  model.dispose();
  return events.filter((e): e is StepEvent => e.type === "step");
}

describe("tokensPerSecond", () => {
  it("is the step's input tokens (B x T of each batch) over the time its micro-steps took", async () => {
    const before = tf.memory().numTensors;
    const shapes: [number, number][] = [
      [2, 8],
      [3, 5],
      [1, 12],
    ];
    const events = await stepEvents(shapes, 250, 1);
    expect(tf.memory().numTensors).toBe(before);
    // 16, 15 and 12 tokens, each in 0.25 s of fake time
    expect(events.map((e) => e.tokensPerSecond)).toEqual([64, 60, 48]);
  });

  it("counts every micro-batch of an accumulated step, and their time together", async () => {
    const shapes: [number, number][] = [
      [2, 8],
      [3, 5],
      [1, 12],
      [4, 4],
    ];
    const events = await stepEvents(shapes, 100, 2);
    // (16 + 15) tokens in 0.2 s, then (12 + 16) in 0.2 s
    expect(events.map((e) => e.tokensPerSecond)).toEqual([155, 140]);
  });

  it("reaches the progress bar as whole tokens per second", () => {
    const lines: string[] = [];
    const write = vi.spyOn(process.stderr, "write").mockImplementation((chunk: string | Uint8Array) => {
      lines.push(String(chunk));
      return true;
    });
    try {
      const bar = new ProgressBar(10);
      bar.update({
        type: "step",
        step: 3,
        loss: 2,
        lr: 1e-3,
        gradNorm: 1,
        gradNorms: {},
        updateRatios: {},
        tokensPerSecond: 155.6,
      } as StepEvent);
      bar.stop();
    } finally {
      write.mockRestore();
    }
    expect(lines.join("")).toMatch(/3\/10 steps .*\| 156 tok\/s/);
  });
});
