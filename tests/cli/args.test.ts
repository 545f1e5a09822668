import { describe, expect, it } from "vitest";
import { options, optionsUsage, parseOptions } from "../../src/cli/args.js";

const SPECS = options({
  steps: { kind: "positiveInt", placeholder: "n", help: "optimizer steps", default: 10 },
  seed: { kind: "integer", placeholder: "n", help: "data order", default: 0 },
  lr: { kind: "positiveNumber", help: "peak learning rate", default: 1e-3, defaultText: "1e-3" },
  ratio: { kind: "nonNegativeNumber", help: "share warming up", default: 0.05 },
  only: { kind: "list", placeholder: "a,b", help: "names" },
  out: { kind: "string", placeholder: "dir", help: "folder", defaultText: "out/<size>" },
  quiet: { kind: "flag", help: "no progress bar" },
});

describe("parseOptions", () => {
  it("fills the defaults when nothing is given", () => {
    expect(parseOptions(SPECS, [])).toEqual({ steps: 10, seed: 0, lr: 1e-3, ratio: 0.05, only: undefined, out: undefined, quiet: false });
  });

  it("parses each kind", () => {
    const o = parseOptions(SPECS, [
      "--steps",
      "3",
      "--seed=-2",
      "--lr",
      "5e-4",
      "--ratio",
      "0",
      "--only",
      "a, b,,c",
      "--out",
      "x",
      "--quiet",
    ]);
    expect(o).toEqual({ steps: 3, seed: -2, lr: 5e-4, ratio: 0, only: ["a", "b", "c"], out: "x", quiet: true });
  });

  it.each([
    [["--steps", "0"], '--steps must be a positive integer, got "0"'],
    [["--steps", "2.5"], '--steps must be a positive integer, got "2.5"'],
    [["--seed", "x"], '--seed must be an integer, got "x"'],
    [["--lr=-1"], '--lr must be a positive number, got "-1"'],
    [["--ratio", "Infinity"], '--ratio must be a number >= 0, got "Infinity"'],
    [["--ratio", ""], '--ratio must be a number >= 0, got ""'],
  ])("rejects %j naming the option", (args, message) => {
    expect(() => parseOptions(SPECS, args)).toThrow(message);
  });

  it("rejects an unknown option", () => {
    expect(() => parseOptions(SPECS, ["--step", "3"])).toThrow(/Unknown option '--step'/);
  });
});

describe("optionsUsage", () => {
  it("writes one aligned line an option, with its default", () => {
    const lines = optionsUsage(SPECS).split("\n");
    expect(lines).toHaveLength(7);
    expect(lines[0]).toBe(`${" ".repeat(13)}${"--steps <n>".padEnd(23)}optimizer steps (default 10)`);
    expect(lines[2]).toMatch(/--lr <x> +peak learning rate \(default 1e-3\)$/);
    expect(lines[5]).toMatch(/--out <dir> +folder \(default out\/<size>\)$/);
    expect(lines[6]).toMatch(/--quiet +no progress bar$/);
    // Every help text starts in the same column.
    expect(lines.every((l) => l[35] === " " && l[36] !== " ")).toBe(true);
  });
});
