import { describe, expect, it } from "vitest";
import { ByteTokenizer } from "../../src/tokenizers/index.js";
import { brownSeq2SeqDataset, collateSeq2Seq, encodeSeq2SeqPairs, seq2seqBatches, syntheticSeq2SeqExamples } from "../../src/data/index.js";

const ex = (source: number[], target: number[]) => ({ source: Int32Array.from(source), target: Int32Array.from(target) });

describe("collateSeq2Seq", () => {
  it("pads sources with the pad id and a 0 mask, labels with -100, to the longest of each side", () => {
    const batch = collateSeq2Seq([ex([5, 6, 1], [7, 1]), ex([8, 1], [9, 9, 9, 1])]);
    expect(batch.sourceShape).toEqual([2, 3]);
    expect(batch.labelShape).toEqual([2, 4]);
    expect([...batch.inputIds]).toEqual([5, 6, 1, 8, 1, 0]);
    expect([...batch.attentionMask]).toEqual([1, 1, 1, 1, 1, 0]);
    expect([...batch.labels]).toEqual([7, 1, -100, -100, 9, 9, 9, 1]);
    const custom = collateSeq2Seq([ex([5], [7]), ex([8, 1], [9, 1])], { padTokenId: 3, labelPadId: -1 });
    expect([...custom.inputIds]).toEqual([5, 3, 8, 1]);
    expect([...custom.labels]).toEqual([7, -1, 9, 1]);
  });

  it("rejects empty batches and empty sides", () => {
    expect(() => collateSeq2Seq([])).toThrow(/no examples/);
    expect(() => collateSeq2Seq([ex([1], [])])).toThrow(/example 0 has an empty target/);
  });
});

describe("encodeSeq2SeqPairs", () => {
  it("tokenizes, appends EOS and truncates keeping the EOS", () => {
    const tokenizer = new ByteTokenizer();
    const [a] = encodeSeq2SeqPairs([{ source: "abc", target: "xy" }], { tokenizer, eosTokenId: 1 });
    expect([...a!.source]).toEqual([97, 98, 99, 1]);
    expect([...a!.target]).toEqual([120, 121, 1]);
    const [b] = encodeSeq2SeqPairs([{ source: "abcdef", target: "xyz" }], {
      tokenizer,
      eosTokenId: 1,
      maxSourceLength: 3,
      maxTargetLength: 2,
    });
    expect([...b!.source]).toEqual([97, 98, 1]);
    expect([...b!.target]).toEqual([120, 1]);
    // The byte tokenizer has no EOS of its own: without one given, nothing is appended.
    expect([...encodeSeq2SeqPairs([{ source: "a", target: "b" }], { tokenizer })[0]!.source]).toEqual([97]);
    expect(() => encodeSeq2SeqPairs([], { tokenizer, eosTokenId: 256 })).toThrow(/eosTokenId 256 .*\[0, 256\)/);
    expect(() => encodeSeq2SeqPairs([], { tokenizer, maxSourceLength: 1 })).toThrow(/maxSourceLength must be an integer >= 2/);
  });
});

describe("seq2seqBatches", () => {
  it("yields every example once per epoch in a seeded order that changes by epoch", () => {
    const examples = Array.from({ length: 10 }, (_, i) => ex([i + 2, 1], [i + 2, 1]));
    const it1 = seq2seqBatches(examples, { batchSize: 3, seed: 4 });
    expect(it1.numBatches).toBe(3);
    const epoch0 = [...it1].flatMap((b) => [...b.inputIds].filter((_, j) => j % 2 === 0));
    const epoch1 = [...it1].flatMap((b) => [...b.inputIds].filter((_, j) => j % 2 === 0));
    expect(epoch0).toHaveLength(9);
    expect(new Set(epoch0).size).toBe(9);
    expect(epoch1).not.toEqual(epoch0);
    const again = seq2seqBatches(examples, { batchSize: 3, seed: 4 });
    expect([...again.epochBatches(0)].map((b) => [...b.inputIds])).toEqual(
      [...seq2seqBatches(examples, { batchSize: 3, seed: 4 })].map((b) => [...b.inputIds]),
    );
    expect(seq2seqBatches(examples, { batchSize: 3, dropLast: false }).numBatches).toBe(4);
    expect(() => seq2seqBatches(examples, { batchSize: 0 })).toThrow(/batchSize must be a positive integer/);
  });
});

describe("syntheticSeq2SeqExamples", () => {
  it("copy, reverse and sort: targets are the source copied, backwards, sorted, each ending in EOS", () => {
    for (const task of ["copy", "reverse", "sort"] as const) {
      const examples = syntheticSeq2SeqExamples({ task, vocabSize: 12, minLength: 2, maxLength: 7, count: 50, seed: 5 });
      const lengths = new Set<number>();
      for (const { source, target } of examples) {
        const s = [...source],
          t = [...target];
        expect(s.at(-1)).toBe(1);
        expect(t.at(-1)).toBe(1);
        const body = s.slice(0, -1);
        lengths.add(body.length);
        expect(body.every((id) => id >= 2 && id < 12)).toBe(true);
        const expected = task === "copy" ? body : task === "reverse" ? [...body].reverse() : [...body].sort((a, b) => a - b);
        expect(t.slice(0, -1)).toEqual(expected);
      }
      expect([...lengths].sort()).toEqual([2, 3, 4, 5, 6, 7]);
    }
    expect(syntheticSeq2SeqExamples({ task: "copy", vocabSize: 12, minLength: 2, maxLength: 4, count: 3, seed: 9 })).toEqual(
      syntheticSeq2SeqExamples({ task: "copy", vocabSize: 12, minLength: 2, maxLength: 4, count: 3, seed: 9 }),
    );
    expect(() => syntheticSeq2SeqExamples({ task: "shuffle" as never, vocabSize: 12, minLength: 2, maxLength: 4, count: 3 })).toThrow(
      /expected "copy", "reverse" or "sort"/,
    );
    expect(() => syntheticSeq2SeqExamples({ task: "copy", vocabSize: 3, minLength: 2, maxLength: 4, count: 3 })).toThrow(
      /at least 2 symbols/,
    );
  });
});

describe("brownSeq2SeqDataset", () => {
  // The first sentence of ca01 (news), as the corpus file prints it.
  const words = [
    "The",
    "Fulton",
    "County",
    "Grand",
    "Jury",
    "said",
    "Friday",
    "an",
    "investigation",
    "of",
    "Atlanta's",
    "recent",
    "primary",
    "election",
    "produced",
    "``",
    "no",
    "evidence",
    "''",
    "that",
    "any",
    "irregularities",
    "took",
    "place",
    ".",
  ];
  const tags = [
    "at",
    "np-tl",
    "nn-tl",
    "jj-tl",
    "nn-tl",
    "vbd",
    "nr",
    "at",
    "nn",
    "in",
    "np$",
    "jj",
    "nn",
    "nn",
    "vbd",
    "``",
    "at",
    "nn",
    "''",
    "cs",
    "dti",
    "nns",
    "vbd",
    "nn",
    ".",
  ];
  const text =
    'The Fulton County Grand Jury said Friday an investigation of Atlanta\'s recent primary election produced "no evidence" that any irregularities took place.';
  const all = (d: { train: { source: string; target: string }[]; validation: { source: string; target: string }[] }) => [
    ...d.train,
    ...d.validation,
  ];

  it("tag: sentence -> its POS tags; untag: the tagged sentence -> its text; continue: first half -> the rest", () => {
    const tag = brownSeq2SeqDataset({ task: "tag", genres: "a" });
    expect(all(tag)).toContainEqual({ source: text, target: tags.join(" ") });
    const untag = brownSeq2SeqDataset({ task: "untag", genres: "a" });
    expect(all(untag)).toContainEqual({ source: words.map((w, i) => `${w}/${tags[i]}`).join(" "), target: text });
    const cont = brownSeq2SeqDataset({ task: "continue", genres: "a" });
    expect(all(cont)).toContainEqual({
      source: "The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary",
      target: 'election produced "no evidence" that any irregularities took place.',
    });
    for (const p of all(cont)) expect(p.source.length > 0 && p.target.length > 0).toBe(true);
  });

  it("splits by document, deterministically, within the word limits", () => {
    const d = brownSeq2SeqDataset({ task: "tag", genres: "a", seed: 7, minWords: 5, maxWords: 12 });
    expect(d.documents.train.filter((id) => d.documents.validation.includes(id))).toEqual([]);
    expect(d.documents.train.length + d.documents.validation.length).toBe(44);
    expect(d.train.length).toBeGreaterThan(100);
    expect(d.validation.length).toBeGreaterThan(5);
    for (const p of [...d.train, ...d.validation]) {
      const n = p.target.split(" ").length;
      expect(n >= 5 && n <= 12).toBe(true);
    }
    expect(brownSeq2SeqDataset({ task: "tag", genres: "a", seed: 7, minWords: 5, maxWords: 12 })).toEqual(d);
    expect(() => brownSeq2SeqDataset({ task: "summarize" as never })).toThrow(/expected "continue", "tag" or "untag"/);
  });
});
