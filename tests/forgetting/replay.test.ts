import { beforeAll, describe, expect, it } from "vitest";
import { ready } from "../../src/engine/index.js";
import { withReplay } from "../../src/forgetting/index.js";
import { train, type StepEvent, type TokenBatch } from "../../src/train/index.js";
import { tinyModel, toBatches, weightsOf, windows } from "./helpers.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

const T = 16;
const domain = toBatches(windows(8, T, 3, 16), 4);
const general = windows(10, T, 7);

const take = (it: Iterator<TokenBatch>, n: number) => Array.from({ length: n }, () => it.next().value as TokenBatch);

describe("withReplay(batches, general, { fraction, seed })", () => {
  it("with fraction 0 yields exactly the original batches, epoch after epoch for an array", () => {
    const out = take(withReplay(domain, general, { fraction: 0 }), 5);
    expect(out).toEqual([domain[0], domain[1], domain[0], domain[1], domain[0]]);
    expect(out[0]).toBe(domain[0]);
  });

  it("with fraction 0 trains to identical losses and weights as no replay", async () => {
    const run = async (data: Iterable<TokenBatch> | Iterator<TokenBatch>) => {
      const model = tinyModel(4);
      const { events } = await train(model, { data, steps: 3, lr: 1e-2, progress: false });
      return { losses: events.filter((e): e is StepEvent => e.type === "step").map((e) => e.loss), weights: weightsOf(model) };
    };
    const plain = await run(domain);
    const replayed = await run(withReplay(domain, general, { fraction: 0, seed: 9 }));
    expect(replayed.losses).toEqual(plain.losses);
    expect(replayed.weights).toEqual(plain.weights);
  });

  it("with fraction 0.5 and B = 4 keeps rows 0-1 and fills rows 2-3 with general windows (inputs and shifted targets), reproducibly from the seed", () => {
    const a = take(withReplay(domain, general, { fraction: 0.5, seed: 1 }), 4);
    const b = take(withReplay(domain, general, { fraction: 0.5, seed: 1 }), 4);
    expect(a).toEqual(b);
    const generalRows = new Set(general.map((w) => Array.from(w).join(",")));
    a.forEach((batch, i) => {
      const original = domain[i % 2];
      expect(batch.shape).toEqual([4, T]);
      expect(batch.inputIds.subarray(0, 2 * T)).toEqual(original.inputIds.subarray(0, 2 * T));
      expect(batch.targets.subarray(0, 2 * T)).toEqual(original.targets.subarray(0, 2 * T));
      for (const row of [2, 3]) {
        const ids = Array.from(batch.inputIds.subarray(row * T, (row + 1) * T));
        const tg = Array.from(batch.targets.subarray(row * T, (row + 1) * T));
        expect(tg.slice(0, -1)).toEqual(ids.slice(1));
        expect(generalRows.has([...ids, tg[T - 1]].join(","))).toBe(true);
      }
    });
    expect(domain[0].inputIds).toEqual(toBatches(windows(8, T, 3, 16), 4)[0].inputIds); // input untouched
    const other = take(withReplay(domain, general, { fraction: 0.5, seed: 2 }), 4);
    expect(other).not.toEqual(a);
  });

  it("reads an iterator once, and rejects a bad fraction or windows of the wrong length with the expected sizes", () => {
    expect([...withReplay(domain[Symbol.iterator](), general, { fraction: 0.25 })]).toHaveLength(2);
    expect(() => withReplay(domain, general, { fraction: 1.5 }).next()).toThrow(/fraction must be in \[0, 1\], got 1.5/);
    expect(() => withReplay(domain, windows(3, 8), { fraction: 0.5 }).next()).toThrow(/T \+ 1 = 17 tokens.*got 9/);
  });
});
