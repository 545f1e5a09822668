import { describe, expect, it } from "vitest";
import { BatchIterator, batchStream, batches, tokenWindows } from "../../src/data/index.js";

// 23 windows of 5 tokens (T = 4); window k starts with 100 * k so rows name their window.
const windows = Array.from({ length: 23 }, (_, k) => Int32Array.from([0, 1, 2, 3, 4], (t) => 100 * k + t));
const windowOf = (row: ArrayLike<number>) => Math.floor(row[0]! / 100);
const rowsOf = (batch: { inputIds: Int32Array; shape: [number, number] }) =>
  Array.from({ length: batch.shape[0] }, (_, r) => windowOf(batch.inputIds.subarray(r * batch.shape[1])));
const epochOrder = (it: Iterable<{ inputIds: Int32Array; shape: [number, number] }>) => [...it].flatMap(rowsOf);

describe("batches", () => {
  it("lays out inputs w[0..T) and targets w[1..T] row-major in [B, T]", () => {
    const [first] = batches(windows, { batchSize: 3, seed: 1 });
    expect(first!.shape).toEqual([3, 4]);
    for (let r = 0; r < 3; r++) {
      const w = windows[windowOf(first!.inputIds.subarray(r * 4))]!;
      expect([...first!.inputIds.subarray(r * 4, r * 4 + 4)]).toEqual([...w.subarray(0, 4)]);
      expect([...first!.targets.subarray(r * 4, r * 4 + 4)]).toEqual([...w.subarray(1, 5)]);
    }
  });

  it("targets are the inputs shifted by one token on text windows", () => {
    const ids = Array.from({ length: 50 }, (_, i) => 3 * i + 1); // the next token is always 3 more
    const all = [...batches(tokenWindows(ids, { length: 6 }), { batchSize: 2, seed: 0 })];
    expect(all).toHaveLength(4); // 8 windows of 7 tokens from 50
    for (const batch of all) {
      batch.inputIds.forEach((id, i) => expect(batch.targets[i]).toBe(id + 3));
    }
  });

  it("visits every window exactly once per epoch", () => {
    const all = epochOrder(batches(windows, { batchSize: 5, seed: 2, dropLast: false }));
    expect([...all].sort((a, b) => a - b)).toEqual(windows.map((_, k) => k));
    const dropped = [...batches(windows, { batchSize: 5, seed: 2 })];
    expect(dropped).toHaveLength(4); // floor(23 / 5); the 3 left over wait for the next epoch
    expect(new Set(dropped.flatMap(rowsOf)).size).toBe(20);
    const last = [...batches(windows, { batchSize: 5, seed: 2, dropLast: false })].at(-1)!;
    expect(last.shape).toEqual([3, 4]);
    expect(last.inputIds).toHaveLength(12);
  });

  it("gives the same order for the same seed, a new order each epoch and another for another seed", () => {
    const a = batches(windows, { batchSize: 4, seed: 5 });
    const b = new BatchIterator(windows, { batchSize: 4, seed: 5 });
    const a0 = epochOrder(a),
      a1 = epochOrder(a);
    expect(a.epoch).toBe(2);
    expect(epochOrder(b)).toEqual(a0);
    expect(epochOrder(b)).toEqual(a1);
    expect(a1).not.toEqual(a0);
    expect(epochOrder(a.epochBatches(1))).toEqual(a1);
    expect(epochOrder(batches(windows, { batchSize: 4, seed: 6 }))).not.toEqual(a0);
  });

  it("keeps the given order without shuffle", () => {
    expect(epochOrder(batches(windows, { batchSize: 4, shuffle: false, dropLast: false }))).toEqual(windows.map((_, k) => k));
  });

  it("rejects windows of different lengths and bad batch sizes", () => {
    expect(() => batches([new Int32Array(5), new Int32Array(4)], { batchSize: 1 })).toThrow(/window 1 has 4 tokens, window 0 has 5/);
    expect(() => batches(windows, { batchSize: 0 })).toThrow(/batchSize/);
    expect(() => batches([], { batchSize: 1 })).toThrow(/no windows/);
  });
});

describe("batchStream", () => {
  it("runs epoch after epoch in the same order as the BatchIterator's epochs", () => {
    const stream = batchStream(windows, { batchSize: 5, seed: 9 });
    const reference = new BatchIterator(windows, { batchSize: 5, seed: 9 });
    for (let epoch = 0; epoch < 3; epoch++) {
      const expected = epochOrder(reference.epochBatches(epoch));
      const got = Array.from({ length: 4 }, () => rowsOf(stream.next().value)).flat();
      expect(got).toEqual(expected);
    }
  });

  it("refuses at once when dropLast leaves no batch", () => {
    expect(() => batchStream(windows.slice(0, 3), { batchSize: 4, seed: 0 })).toThrow(/3 windows make no batch of 4/);
    expect(batchStream(windows.slice(0, 3), { batchSize: 4, seed: 0, dropLast: false }).next().value.shape).toEqual([3, 4]);
  });
});
