import { describe, expect, it } from "vitest";
import { SYNTHETIC_SEPARATOR, syntheticSequences } from "../../src/data/index.js";

describe("syntheticSequences", () => {
  it("returns count windows of length + 1 tokens in [0, vocabSize)", () => {
    for (const task of ["copy", "reverse", "count"] as const) {
      const windows = syntheticSequences({ task, vocabSize: 10, length: 12, count: 7, seed: 1 });
      expect(windows).toHaveLength(7);
      for (const w of windows) {
        expect(w).toBeInstanceOf(Int32Array);
        expect(w).toHaveLength(13);
        for (const id of w) expect(id >= 0 && id < 10).toBe(true);
      }
    }
  });

  it("copy: k random symbols, the separator, the same k symbols (k = floor(T / 2))", () => {
    for (const w of syntheticSequences({ task: "copy", vocabSize: 12, length: 8, count: 20, seed: 2 })) {
      const first = [...w.subarray(0, 4)];
      expect(first.every((s) => s >= 1)).toBe(true);
      expect(w[4]).toBe(SYNTHETIC_SEPARATOR);
      expect([...w.subarray(5, 9)]).toEqual(first);
    }
    // odd T: the extra last token is the separator
    const [odd] = syntheticSequences({ task: "copy", vocabSize: 12, length: 7, count: 1, seed: 2 });
    expect([odd![3], odd![7]]).toEqual([SYNTHETIC_SEPARATOR, SYNTHETIC_SEPARATOR]);
    expect([...odd!.subarray(4, 7)]).toEqual([...odd!.subarray(0, 3)]);
  });

  it("reverse: the second half is the first half backwards", () => {
    for (const w of syntheticSequences({ task: "reverse", vocabSize: 12, length: 10, count: 20, seed: 3 })) {
      expect(w[5]).toBe(SYNTHETIC_SEPARATOR);
      expect([...w.subarray(6, 11)]).toEqual([...w.subarray(0, 5)].reverse());
    }
  });

  it("count: each token is the previous plus one, cycling through 1 .. vocabSize - 1", () => {
    for (const w of syntheticSequences({ task: "count", vocabSize: 5, length: 9, count: 20, seed: 4 })) {
      for (let i = 1; i < w.length; i++) expect(w[i]).toBe(w[i - 1] === 4 ? 1 : w[i - 1]! + 1);
    }
  });

  it("draws symbols over the whole range, reproducibly from the seed", () => {
    const a = syntheticSequences({ task: "copy", vocabSize: 8, length: 16, count: 50, seed: 5 });
    const seen = new Set(a.flatMap((w) => [...w.subarray(0, 8)]));
    expect([...seen].sort()).toEqual([1, 2, 3, 4, 5, 6, 7]);
    expect(syntheticSequences({ task: "copy", vocabSize: 8, length: 16, count: 50, seed: 5 })).toEqual(a);
    expect(syntheticSequences({ task: "copy", vocabSize: 8, length: 16, count: 50, seed: 6 })).not.toEqual(a);
  });

  it("rejects a vocabulary too small, a window too short or an unknown task", () => {
    expect(() => syntheticSequences({ task: "copy", vocabSize: 2, length: 8, count: 1 })).toThrow(/vocabSize must be an integer >= 3/);
    expect(() => syntheticSequences({ task: "copy", vocabSize: 8, length: 1, count: 1 })).toThrow(/length/);
    expect(() => syntheticSequences({ task: "sort" as "copy", vocabSize: 8, length: 8, count: 1 })).toThrow(/unknown task "sort"/);
  });
});
