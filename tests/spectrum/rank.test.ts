import { describe, expect, it } from "vitest";
import { effectiveRank, frobeniusNorm, stableRank } from "../../src/spectrum/index.js";
import { spectrumEffectiveRank, spectrumFrobeniusNorm, spectrumStableRank } from "../../src/inspect/index.js";

describe("stableRank(s) = sum s^2 / max s^2", () => {
  it("matches hand values", () => {
    expect(stableRank([3, 4])).toBeCloseTo(25 / 16, 12); // order does not matter
    expect(stableRank([2, 2, 2, 2])).toBeCloseTo(4, 12);
    expect(stableRank([5])).toBe(1);
    expect(stableRank([-4, 3])).toBeCloseTo(25 / 16, 12); // magnitudes count
  });
  it("is 0 for a zero matrix and an empty spectrum", () => {
    expect(stableRank([0, 0])).toBe(0);
    expect(stableRank([])).toBe(0);
  });
});

describe("effectiveRank(s) = exp(H(|s| / sum |s|)) (Roy & Vetterli 2007)", () => {
  it("matches hand values", () => {
    expect(effectiveRank([1, 1, 1, 1, 1])).toBeCloseTo(5, 12);
    expect(effectiveRank([7, 0, 0])).toBeCloseTo(1, 12);
    // p = [1/2, 1/4, 1/4]: H = 1.5 ln 2, so exp(H) = 2^1.5
    expect(effectiveRank([2, 1, 1])).toBeCloseTo(2 ** 1.5, 12);
    // p = [3/4, 1/4]: H = -(3/4 ln 3/4 + 1/4 ln 1/4)
    expect(effectiveRank([-3, 1])).toBeCloseTo(Math.exp(-(0.75 * Math.log(0.75) + 0.25 * Math.log(0.25))), 12);
  });
  it("is 0 for a zero matrix and an empty spectrum", () => {
    expect(effectiveRank([0, 0])).toBe(0);
    expect(effectiveRank([])).toBe(0);
  });
});

describe("frobeniusNorm(s) = sqrt(sum s^2)", () => {
  it("matches a 3-4-5 triangle", () => {
    expect(frobeniusNorm([3, 4])).toBe(5);
    expect(frobeniusNorm([])).toBe(0);
  });
});

describe("inspect's public spectrum* names", () => {
  it("are the leaf's functions, not copies", () => {
    expect(spectrumStableRank).toBe(stableRank);
    expect(spectrumEffectiveRank).toBe(effectiveRank);
    expect(spectrumFrobeniusNorm).toBe(frobeniusNorm);
  });
});
