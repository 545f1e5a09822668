import { mkdtemp, readFile, rm } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { brownDocuments } from "../../src/data/index.js";
import {
  bytesToUnicode,
  GPT2_PRETOKENIZE,
  HFTokenizer,
  loadTokenizer,
  saveTokenizer,
  trainBpeTokenizer,
} from "../../src/tokenizers/index.js";
import { bytesToUnicode as handWrittenTable } from "./tiny-bpe.js";

const FIXTURES = join(import.meta.dirname, "..", "fixtures", "bpe-train");
/** Made by tests/fixtures/make_bpe_train.py, a plain Python trainer (its own pre-tokenizer scanner, pair recount per merge). */
const reference = JSON.parse(readFileSync(join(FIXTURES, "merges.json"), "utf8")) as {
  special_tokens: string[];
  pieces: string[];
  runs: { vocab_size: number; min_frequency: number; merges: string[] }[];
};
const corpus = readFileSync(join(FIXTURES, "corpus.txt"), "utf8");
const EOT = "<|endoftext|>";

describe("trainBpeTokenizer against the Python reference trainer", () => {
  it("cuts text into the same pieces as the reference's GPT-2 regex scanner", () => {
    expect(corpus.split(EOT)[0].match(GPT2_PRETOKENIZE)).toEqual(reference.pieces);
    expect(bytesToUnicode()).toEqual(handWrittenTable());
  });

  it.each(reference.runs.map((r) => [r.vocab_size, r.min_frequency, r] as const))(
    "vocabSize %i, minFrequency %i: learns the reference's merges, in order",
    (vocabSize, minFrequency, run) => {
      const bpe = trainBpeTokenizer([corpus], { vocabSize, minFrequency, specialTokens: reference.special_tokens });
      expect(bpe.merges.map(([a, b]) => `${a} ${b}`)).toEqual(run.merges);
    },
  );

  it("the special token's text is never learned from: no merge spans the document boundary", () => {
    const bpe = trainBpeTokenizer([corpus], { vocabSize: 4000, minFrequency: 2, specialTokens: [EOT] });
    expect(bpe.merges.some(([a, b]) => (a + b).includes("|>"))).toBe(false);
  });

  it("rejects a vocabulary too small for the bytes and special tokens, naming the sizes", () => {
    expect(() => trainBpeTokenizer([corpus], { vocabSize: 256, specialTokens: [EOT] })).toThrow(/vocabSize 256 .*256 bytes \+ 1 special/);
  });
});

describe("the written tokenizer.json, loaded by HFTokenizer", () => {
  // Trained on 40 documents of every genre; checked on those (the trainer's own word table) and on 40 it never saw (its merges by rank).
  const docs = brownDocuments();
  const seen = docs.filter((_, i) => i % 25 === 0).map((d) => d.text);
  const unseen = docs.filter((_, i) => i % 25 === 12).map((d) => d.text);
  const bpe = trainBpeTokenizer(seen, { vocabSize: 2048, specialTokens: [EOT] });

  it("round-trips Brown text exactly and encodes it as the trainer does, seen and unseen", async () => {
    const dir = await mkdtemp(join(tmpdir(), "lora-lab-bpe-"));
    await saveTokenizer(bpe.tokenizer(), dir);
    const tok = await loadTokenizer(dir);
    expect(tok).toBeInstanceOf(HFTokenizer);
    expect(tok.vocabSize).toBe(2048);
    let tokens = 0;
    let bytes = 0;
    for (const text of [...seen, ...unseen]) {
      const ids = tok.encode(text);
      expect(tok.decode(ids)).toBe(text);
      expect(ids).toEqual(bpe.encode(text));
      tokens += ids.length;
      bytes += new TextEncoder().encode(text).length;
    }
    expect(bytes / tokens).toBeGreaterThan(3); // merges do compress: GPT-2's own vocabulary gets about 4 bytes a token on English
    const config = JSON.parse(await readFile(join(dir, "tokenizer_config.json"), "utf8"));
    expect(config).toMatchObject({ tokenizer_class: "GPT2Tokenizer", eos_token: EOT, bos_token: EOT });
    await rm(dir, { recursive: true, force: true });
  });

  it("round-trips the edge cases: empty text, unicode outside the corpus, runs of spaces, a leading BOM", () => {
    const tok = bpe.tokenizer();
    for (const text of ["", "﻿BOM first", "Ωμέγα 漢字 🧪🧪", "a   b\t\t\n\n c  ", " 12345678 ", "don't WON'T"]) {
      const ids = tok.encode(text);
      expect(tok.decode(ids)).toBe(text);
      expect(ids).toEqual(bpe.encode(text));
    }
  });

  it("<|endoftext|> is one id (the last), the tokenizer's eos and bos, in text and by itself", () => {
    const tok = bpe.tokenizer();
    const eos = tok.tokenToId(EOT)!;
    expect(eos).toBe(2047);
    expect([tok.eosTokenId, tok.bosTokenId]).toEqual([eos, eos]);
    expect(tok.encode(EOT)).toEqual([eos]);
    const ids = tok.encode(`The end.${EOT}The start`);
    expect(ids.filter((id) => id === eos)).toHaveLength(1);
    expect(ids).toEqual([...tok.encode("The end."), eos, ...tok.encode("The start")]);
    expect(bpe.encode(`The end.${EOT}The start`)).toEqual(ids);
    expect(tok.decode(ids)).toBe(`The end.${EOT}The start`);
  });
});
