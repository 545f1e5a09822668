import { describe, expect, it } from "vitest";
import { tokenWindows } from "../../src/data/index.js";

const range = (n: number) => Array.from({ length: n }, (_, i) => i);

describe("tokenWindows", () => {
  it("tiles the stream into windows of length + 1 that share one token", () => {
    // 10 tokens, length 3: windows start at 0, 3, 6 (6 + 4 = 10 fits); the tail is dropped
    const windows = tokenWindows(range(10), { length: 3 });
    expect(windows.map((w) => [...w])).toEqual([
      [0, 1, 2, 3],
      [3, 4, 5, 6],
      [6, 7, 8, 9],
    ]);
    expect(windows[0]).toBeInstanceOf(Int32Array);
  });

  it("covers every next-token pair exactly once when stride === length", () => {
    const n = 103;
    const windows = tokenWindows(
      range(n).map((i) => (i * 7) % 31),
      { length: 8 },
    );
    const pairs = windows.flatMap((w) => range(8).map((t) => `${w[t]}>${w[t + 1]}`));
    const expected = range(Math.floor((n - 1) / 8) * 8).map((i) => `${(i * 7) % 31}>${((i + 1) * 7) % 31}`);
    expect(pairs).toEqual(expected);
  });

  it("overlaps windows with a smaller stride", () => {
    const windows = tokenWindows(Int32Array.from(range(10)), { length: 3, stride: 2 });
    expect(windows.map((w) => w[0])).toEqual([0, 2, 4, 6]);
    expect([...windows[3]!]).toEqual([6, 7, 8, 9]);
  });

  it("copies, so changing a window leaves the source alone", () => {
    const source = range(5);
    tokenWindows(source, { length: 4 })[0]![0] = 99;
    expect(source[0]).toBe(0);
  });

  it("errors when the text is too short for one window, or options are bad", () => {
    expect(tokenWindows(range(5), { length: 4 })).toHaveLength(1);
    expect(() => tokenWindows(range(4), { length: 4 })).toThrow(/too short: 4 tokens, need at least length \+ 1 = 5/);
    expect(() => tokenWindows(range(10), { length: 0 })).toThrow(/length/);
    expect(() => tokenWindows(range(10), { length: 3, stride: 1.5 })).toThrow(/stride/);
  });
});
