import { Tiktoken } from "js-tiktoken/lite";
import gpt2Ranks from "js-tiktoken/ranks/gpt2";
import { describe, expect, it } from "vitest";
import { brownDocuments } from "../../src/data/index.js";
import { HFTokenizer } from "../../src/tokenizers/index.js";
import { gpt2TokenizerFiles } from "../fixtures/gpt2_tokenizer.js";

// GPT-2's byte-level BPE (tokenizer.json derived from js-tiktoken's r50k ranks, see the fixture)
// against js-tiktoken's own encoder, an independent implementation of the same vocabulary.
const files = gpt2TokenizerFiles();
const tok = new HFTokenizer(files.tokenizerJson, files.tokenizerConfig);
const reference = new Tiktoken(gpt2Ranks);

describe("HFTokenizer on GPT-2's tokenizer", () => {
  it("has GPT-2's vocabulary and special tokens: 50257 ids, <|endoftext|> = 50256 as bos and eos, no pad token", () => {
    expect(tok.vocabSize).toBe(50257);
    expect([tok.bosTokenId, tok.eosTokenId, tok.padTokenId]).toEqual([50256, 50256, undefined]);
    expect(files.tokenizerJson["model"]).toMatchObject({ type: "BPE" });
    expect((files.tokenizerJson["model"] as { merges: string[] }).merges.length).toBe(50000);
  });

  it("matches js-tiktoken on tricky text: contractions, digits, spaces, newlines, non-Latin scripts, emoji", () => {
    const samples = [
      "Hello world! It's 2026, isn't it? I'd've thought so.",
      "  leading and trailing spaces   \n\n\ttabs\r\nand CRLF",
      "numbers 1234567 3.14159 -42 1e10",
      "naïve café — “quotes” … ½ ¼",
      "日本語のテキスト 中文 한국어 Ελληνικά русский",
      "emoji 👍🏽 🇫🇷 and ZWJ 👨‍👩‍👧",
      "code: for (let i = 0; i < n; i++) { x[i] += y; }",
    ];
    for (const s of samples) {
      expect(tok.encode(s), s).toEqual(reference.encode(s));
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
  });

  it("splits <|endoftext|> out of text as one special token (transformers' default), as tiktoken with special tokens allowed", () => {
    const text = "first document<|endoftext|>second";
    expect(tok.encode(text)).toEqual(reference.encode(text, "all"));
    expect(tok.encode(text)).toContain(50256);
    expect(tok.decode(tok.encode(text), { skipSpecialTokens: true })).toBe("first documentsecond");
    expect(tok.decode(tok.encode(text))).toBe(text);
  });

  it("added tokens: a new special pad token and a plain added token, matched whole as transformers' add_tokens", () => {
    const json = structuredClone(files.tokenizerJson) as { added_tokens: object[] };
    const added = (id: number, content: string, special: boolean) => ({
      id,
      content,
      single_word: false,
      lstrip: false,
      rstrip: false,
      normalized: !special,
      special,
    });
    json.added_tokens.push(added(50257, "<|pad|>", true), added(50258, "lora-lab", false));
    const withPad = new HFTokenizer(json, { ...files.tokenizerConfig, pad_token: "<|pad|>" });
    expect(withPad.vocabSize).toBe(50259);
    expect(withPad.padTokenId).toBe(50257);
    expect(withPad.encode("a<|pad|>b")).toEqual([...reference.encode("a"), 50257, ...reference.encode("b")]);
    // The text around an added token is tokenized on its own (the space before it stays a separate token).
    expect(withPad.encode("use lora-lab now")).toEqual([...reference.encode("use "), 50258, ...reference.encode(" now")]);
    expect(withPad.decode(withPad.encode("x<|pad|>y lora-lab"), { skipSpecialTokens: true })).toBe("xy lora-lab");
  });

  it("pad_token set to the EOS token, as GPT-2 fine-tuning scripts do, pads with 50256", () => {
    expect(new HFTokenizer(files.tokenizerJson, { ...files.tokenizerConfig, pad_token: "<|endoftext|>" }).padTokenId).toBe(50256);
  });
});

describe("HFTokenizer = js-tiktoken on the whole Brown corpus", () => {
  it("every one of the 500 documents, token for token", () => {
    const docs = brownDocuments();
    expect(docs).toHaveLength(500);
    let tokens = 0;
    const mismatched: string[] = [];
    for (const doc of docs) {
      const ours = tok.encode(doc.text);
      const theirs = reference.encode(doc.text);
      tokens += ours.length;
      if (ours.length !== theirs.length || ours.some((id, i) => id !== theirs[i])) mismatched.push(doc.id);
    }
    expect(mismatched).toEqual([]);
    expect(tokens).toBeGreaterThan(1_300_000);
  }, 180_000);
});
