import { readFileSync } from "node:fs";
import { beforeAll, describe, expect, it } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { gpt2, GPT2Config, t5, T5Config } from "../../src/models/index.js";
import { checkGenerateOptions, pickToken, processLogits, type GenerateOptions } from "../../src/models/generation.js";

interface ProcessorCase {
  options: GenerateOptions;
  logits: number[];
  seen: number[];
  processed: (number | null)[];
}

const fixture = JSON.parse(readFileSync(new URL("../fixtures/generate/processors.json", import.meta.url), "utf8")) as {
  vocab_size: number;
  cases: ProcessorCase[];
};

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

const tinyGpt2 = () => {
  seed(3);
  return gpt2(new GPT2Config({ vocabSize: 32, nPositions: 32, nEmbd: 32, nLayer: 2, nHead: 2 }));
};

describe("processLogits (transformers' processors, in generate's order)", () => {
  // tests/fixtures/make_generate_processors.py: torch, float32, from the published processor semantics.
  for (const [i, c] of fixture.cases.entries()) {
    it(`case ${i} ${JSON.stringify(c.options)} gives the reference's logits and removed tokens`, () => {
      const out = processLogits(Float32Array.from(c.logits), c.seen, { maxNewTokens: 1, ...c.options });
      const removed = (row: ArrayLike<number | null>) =>
        Array.from(row, (v, j) => (v === null || v === -Infinity ? j : -1)).filter((j) => j >= 0);
      expect(removed(out)).toEqual(removed(c.processed));
      c.processed.forEach((v, j) => {
        if (v !== null) expect(Math.abs(out[j] - v)).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(v)));
      });
    });
  }

  it("top-k keeps every token tied with the k-th largest, as transformers' `scores < kth` does", () => {
    const out = processLogits(Float32Array.from([1, 3, 2, 3, 2, 0]), [], { maxNewTokens: 1, topK: 3 });
    expect(Array.from(out)).toEqual([-Infinity, 3, 2, 3, 2, -Infinity]);
  });

  it("the repetition penalty counts each token once however often it occurs", () => {
    const out = processLogits(Float32Array.from([2, -2, 4]), [0, 0, 0, 1], { maxNewTokens: 1, repetitionPenalty: 2, temperature: 0 });
    expect(Array.from(out)).toEqual([1, -4, 4]);
  });

  it("sampling draws only kept tokens, and each of them, under seed()", () => {
    const logits = Float32Array.from([0.5, 0.1, 0.4, -1, 0.45, 0.2]);
    const opts = { maxNewTokens: 1, topK: 4, topP: 0.7 };
    const processed = processLogits(logits, [], opts);
    const kept = [...processed.keys()].filter((j) => processed[j] > -Infinity);
    // By hand: top-4 keeps 0, 4, 2, 5; softmax of those, ascending 5 (0.225), 2 (0.245): 0.225 <= 0.3 goes, 0.47 > 0.3 stays.
    expect(kept).toEqual([0, 2, 4]);
    seed(5);
    const draws = new Set(Array.from({ length: 200 }, () => pickToken(processed, opts)));
    expect([...draws].sort()).toEqual(kept);
  });
});

describe("generate's options", () => {
  it("reject bad values, naming the option", () => {
    const V = 32;
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ maxNewTokens: 1.5 }, /maxNewTokens must be a non-negative integer, got 1.5/],
      [{ maxNewTokens: 2, temperature: -1 }, /temperature must be a finite number >= 0 \(0: greedy\), got -1/],
      [{ maxNewTokens: 2, temperature: Infinity }, /temperature must be a finite number/],
      [{ maxNewTokens: 2, topK: 2.5 }, /topK must be a non-negative integer \(0: no top-k\), got 2.5/],
      [{ maxNewTokens: 2, topP: 1.5 }, /topP must be a number in \[0, 1\], got 1.5/],
      [{ maxNewTokens: 2, topP: "0.5" }, /topP must be a number in \[0, 1\], got 0.5/],
      [{ maxNewTokens: 2, repetitionPenalty: 0 }, /repetitionPenalty must be a finite number > 0 \(1: none\), got 0/],
      [{ maxNewTokens: 2, eosTokenId: 32 }, /eosTokenId 32 is not a token id in the vocabulary \[0, 32\)/],
      [{ maxNewTokens: 2, eosTokenId: [3, -1] }, /eosTokenId -1 is not a token id/],
      [{ maxNewTokens: 2, eosTokenId: [] }, /eosTokenId is an empty list/],
      [{ maxNewTokens: 2, useCache: "yes" }, /useCache must be true or false, got yes/],
      [{ maxNewTokens: 2, onToken: 3 }, /onToken must be a function/],
      [{ maxNewTokens: 2, streamer: { put() {} } }, /streamer must be an object with put\(tokens\) and end\(\) methods/],
      [{ maxNewTokens: 2, top_p: 0.9 }, /unknown option top_p \(did you mean topP\?\); options: maxNewTokens, temperature/],
    ];
    for (const [opts, message] of cases)
      expect(() => checkGenerateOptions(opts as unknown as GenerateOptions, V), JSON.stringify(opts)).toThrow(message);
    expect(() => checkGenerateOptions({ maxNewTokens: 0, topK: 0, topP: 0, eosTokenId: [0, 31], useCache: false }, V)).not.toThrow();
    const model = tinyGpt2();
    expect(() => model.generate([1, 2], { maxNewTokens: 2, topP: 2 })).toThrow(/topP must be a number in \[0, 1\]/);
    model.dispose();
  });

  it("reject masks that do not left-pad the prompts", () => {
    const model = tinyGpt2();
    const ids = [
      [5, 6, 7],
      [0, 8, 9],
    ];
    const go = (attentionMask: number[][]) => () => model.generate(ids, { maxNewTokens: 1, temperature: 0, attentionMask });
    expect(
      go([
        [1, 1, 0],
        [0, 1, 1],
      ]),
    ).toThrow(/attention mask row 0 has padding at position 2 after a token at 0; .* pad prompts on the left/);
    expect(
      go([
        [1, 1, 1],
        [0, 0, 0],
      ]),
    ).toThrow(/attention mask row 1 is all padding/);
    expect(go([[1, 1, 1]])).toThrow(/attention mask shape \[1,3\] does not match input ids shape \[2,3\]/);
    expect(
      go([
        [1, 1, 1],
        [0, 2, 1],
      ]),
    ).toThrow(/attention mask: token 2 at \[1, 1\] is outside the vocabulary \[0, 2\)/);
    model.dispose();
  });
});

describe("streaming and stop tokens", () => {
  it("onToken and the streamer get each step's tokens in order, then end() once", () => {
    const model = tinyGpt2();
    const seen: Array<[number, number[]]> = [];
    const events: string[] = [];
    const out = model.generate(
      [
        [1, 2, 3],
        [4, 5, 6],
      ],
      {
        maxNewTokens: 5,
        temperature: 0.9,
        onToken: (tokens, step) => seen.push([step, tokens]),
        streamer: { put: (tokens) => events.push(`put ${tokens.join(",")}`), end: () => events.push("end") },
      },
    );
    expect(seen.map(([step]) => step)).toEqual([0, 1, 2, 3, 4]);
    // Step t's tokens are column 3 + t of the result.
    expect(seen.map(([, tokens]) => tokens)).toEqual([0, 1, 2, 3, 4].map((t) => out.map((row) => row[3 + t])));
    expect(events).toEqual([...seen.map(([, tokens]) => `put ${tokens.join(",")}`), "end"]);
    model.dispose();
  });

  it("a sequence stops at the first of several stop tokens; finished rows are padded until all stop", () => {
    const model = tinyGpt2();
    const prompt = [
      [1, 2, 3],
      [7, 8, 9],
    ];
    const free = model.generate(prompt, { maxNewTokens: 12, temperature: 0 }).map((row) => row.slice(3));
    // Two stop tokens taken from the free run: row 0's fourth token and row 1's seventh.
    const stops = [free[0][3], free[1][6]];
    const firstStop = free.map((row) => row.findIndex((t) => stops.includes(t)));
    const streamed: number[][] = [];
    const out = model.generate(prompt, { maxNewTokens: 12, temperature: 0, eosTokenId: stops, onToken: (t) => streamed.push(t) });
    const steps = Math.max(...firstStop) + 1;
    expect(streamed.length).toBe(steps);
    out.forEach((row, b) => {
      const expected = [...free[b].slice(0, firstStop[b] + 1)];
      while (expected.length < steps) expected.push(stops[0]); // padded with the first stop token (no pad token)
      expect(row).toEqual([...prompt[b], ...expected]);
    });
    model.dispose();
  });

  it("T5 stops at any of its stop tokens and pads finished rows with the pad token", () => {
    seed(4);
    const model = t5(new T5Config({ vocabSize: 32, dModel: 16, dKv: 4, dFf: 24, numLayers: 1, numHeads: 2 }));
    const sources = [
      [3, 4, 5],
      [6, 7, 8],
    ];
    const free = model.generate(sources, { maxNewTokens: 8, temperature: 0, eosTokenId: null });
    const stops = [free[0][3], free[1][5]];
    const first = free.map((row) => row.findIndex((t, i) => i > 0 && stops.includes(t)));
    const out = model.generate(sources, { maxNewTokens: 8, temperature: 0, eosTokenId: stops });
    out.forEach((row, b) => {
      const expected = free[b].slice(0, first[b] + 1);
      while (expected.length < Math.max(...first) + 1) expected.push(model.config.padTokenId);
      expect(row).toEqual(expected);
    });
    model.dispose();
  });
});
