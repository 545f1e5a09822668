import { mkdtemp, readFile, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ByteTokenizer, HFTokenizer, loadTokenizer, saveTokenizer, tokenizerFromJSON } from "../../src/tokenizers/index.js";
import { EOS, G_THE, HE, LL, LLO, TINY_CONFIG, bytesToUnicode, tinyBpeJson } from "./tiny-bpe.js";

const b = (s: string) => [...new TextEncoder().encode(s)]; // byte ids = token ids below 256

describe("HFTokenizer on a hand-written byte-level BPE", () => {
  const tok = new HFTokenizer(tinyBpeJson(), TINY_CONFIG);

  it("the test's byte table is GPT-2's (space -> Ġ, newline -> Ċ, 'A' -> 'A')", () => {
    const table = bytesToUnicode();
    expect([table[32], table[10], table[65]]).toEqual(["Ġ", "Ċ", "A"]);
    expect(new Set(table).size).toBe(256);
  });

  it("encode applies the merges in rank order, as derived by hand", () => {
    // "hello": h e l l o -> (h e) rank 0, (l l) rank 3, (ll o) rank 4 -> he llo
    expect(tok.encode("hello")).toEqual([HE, LLO]);
    // " the": Ġ t h e -> (h e) -> (Ġ t) -> (Ġt he) -> Ġthe
    expect(tok.encode(" the")).toEqual([G_THE]);
    // "the" has no Ġ, so only (h e) applies
    expect(tok.encode("the")).toEqual([...b("t"), HE]);
    // " other": Ġ o t h e r -> only (h e)
    expect(tok.encode("hello the other")).toEqual([HE, LLO, G_THE, ...b(" ot"), HE, ...b("r")]);
    // "lll": both (l l) pairs have rank 3; the leftmost merges first
    expect(tok.encode("lll")).toEqual([LL, ...b("l")]);
    // the regex splits "'s" off "it"
    expect(tok.encode("it's")).toEqual(b("it's"));
    expect(tok.tokenize("hello the")).toEqual(["he", "llo", "Ġthe"]);
  });

  it("non-ASCII text falls back to its UTF-8 bytes", () => {
    expect(tok.encode("é")).toEqual([0xc3, 0xa9]);
    expect(tok.encode("日")).toEqual([0xe6, 0x97, 0xa5]);
  });

  it("special tokens in text encode to their id and add no others by default", () => {
    expect(tok.encode("hello<|endoftext|>")).toEqual([HE, LLO, EOS]);
    expect(tok.encode("")).toEqual([]);
  });

  it("decode(encode(s)) returns s for ASCII and non-ASCII text", () => {
    for (const s of ["hello the other", "Hello , world . it 's", "naïve café — 日本語 😀\n\tend", "  two  spaces "]) {
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
    expect(tok.decode(Int32Array.from([HE, LLO]))).toBe("hello");
    expect(tok.decode([])).toBe("");
  });

  it("decode keeps special tokens unless asked to skip them", () => {
    expect(tok.decode([HE, LLO, EOS])).toBe("hello<|endoftext|>");
    expect(tok.decode([HE, LLO, EOS], { skipSpecialTokens: true })).toBe("hello");
  });

  it("reads vocab size and eos/bos/pad from tokenizer.json and tokenizer_config.json", () => {
    expect(tok.vocabSize).toBe(262);
    expect(tok.eosTokenId).toBe(EOS);
    expect(tok.bosTokenId).toBe(EOS);
    expect(tok.padTokenId).toBeUndefined();
    expect(new HFTokenizer(tinyBpeJson()).eosTokenId).toBeUndefined();
  });

  it("rejects out-of-range ids and config tokens missing from the vocabulary", () => {
    expect(() => tok.decode([HE, 262])).toThrow(/id 262 at position 1.*\[0, 262\)/);
    expect(() => new HFTokenizer(tinyBpeJson(), { eos_token: "</s>" })).toThrow(/eos_token.*"<\/s>".*not in the vocabulary/);
    expect(() => new HFTokenizer({ vocab: {} })).toThrow(/"model"/);
  });

  it("accepts a tokenizer.json without the unused pipeline stages", () => {
    const json = tinyBpeJson();
    delete json["normalizer"];
    delete json["post_processor"];
    delete json["added_tokens"];
    expect(new HFTokenizer(json).encode(" the")).toEqual([G_THE]);
  });

  it("tokenizerFromJSON rebuilds it from toJSON", () => {
    const again = tokenizerFromJSON(JSON.parse(JSON.stringify(tok.toJSON())));
    expect(again).toBeInstanceOf(HFTokenizer);
    expect(again.encode("hello the other")).toEqual(tok.encode("hello the other"));
    expect(again.eosTokenId).toBe(EOS);
  });
});

describe("saveTokenizer / loadTokenizer", () => {
  const dirs: string[] = [];
  const tempDir = async () => {
    const dir = await mkdtemp(join(tmpdir(), "lora-lab-tok-"));
    dirs.push(dir);
    return dir;
  };
  afterAll(async () => {
    await Promise.all(dirs.map((d) => rm(d, { recursive: true, force: true })));
  });

  it("round-trips an HFTokenizer through tokenizer.json + tokenizer_config.json", async () => {
    const dir = await tempDir();
    await saveTokenizer(new HFTokenizer(tinyBpeJson(), TINY_CONFIG), dir);
    expect((await readdir(dir)).sort()).toEqual(["tokenizer.json", "tokenizer_config.json"]);
    expect(JSON.parse(await readFile(join(dir, "tokenizer.json"), "utf8"))).toEqual(tinyBpeJson());
    const loaded = await loadTokenizer(dir);
    expect(loaded).toBeInstanceOf(HFTokenizer);
    expect(loaded.encode("hello the other")).toEqual([HE, LLO, G_THE, ...b(" ot"), HE, ...b("r")]);
    expect(loaded.eosTokenId).toBe(EOS);
  });

  it("loads a tokenizer.json alone, with no tokenizer_config.json", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "tokenizer.json"), JSON.stringify(tinyBpeJson()));
    const loaded = await loadTokenizer(dir);
    expect(loaded.encode("hello")).toEqual([HE, LLO]);
    expect(loaded.eosTokenId).toBeUndefined();
  });

  it("round-trips a ByteTokenizer through tokenizer_config.json", async () => {
    const dir = await tempDir();
    await saveTokenizer(new ByteTokenizer(), dir);
    expect(await readdir(dir)).toEqual(["tokenizer_config.json"]);
    expect(JSON.parse(await readFile(join(dir, "tokenizer_config.json"), "utf8"))).toMatchObject({ tokenizer_class: "ByteTokenizer" });
    const loaded = await loadTokenizer(dir);
    expect(loaded).toBeInstanceOf(ByteTokenizer);
  });

  it("says what it looked for and what it found when there is no tokenizer", async () => {
    const dir = await tempDir();
    await writeFile(join(dir, "config.json"), "{}");
    await writeFile(join(dir, "tokenizer_config.json"), JSON.stringify({ tokenizer_class: "LlamaTokenizer" }));
    await expect(loadTokenizer(dir)).rejects.toThrow(
      /"LlamaTokenizer".*looked for tokenizer\.json.*"tokenizer_class": "ByteTokenizer".*files present: config\.json, tokenizer_config\.json/,
    );
    await expect(loadTokenizer(join(dir, "missing"))).rejects.toThrow(/cannot read directory/);
  });
});
