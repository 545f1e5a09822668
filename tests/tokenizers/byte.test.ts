import { describe, expect, it } from "vitest";
import { ByteTokenizer } from "../../src/tokenizers/index.js";

describe("ByteTokenizer", () => {
  const tok = new ByteTokenizer();

  it("encode gives the UTF-8 bytes, written out by hand", () => {
    expect(tok.vocabSize).toBe(256);
    expect(tok.encode("Hi!")).toEqual([0x48, 0x69, 0x21]);
    // é = U+00E9 = C3 A9; € = U+20AC = E2 82 AC; 😀 = U+1F600 = F0 9F 98 80
    expect(tok.encode("é€😀")).toEqual([0xc3, 0xa9, 0xe2, 0x82, 0xac, 0xf0, 0x9f, 0x98, 0x80]);
    expect(tok.encode("")).toEqual([]);
  });

  it("decode(encode(s)) returns s for ASCII, non-ASCII and a leading BOM", () => {
    for (const s of ["The Fulton County Grand Jury", "naïve café — 日本語 😀", "\uFEFFbom", "", "a\nb\tc"]) {
      expect(tok.decode(tok.encode(s))).toBe(s);
    }
  });

  it("decode accepts typed arrays", () => {
    expect(tok.decode(Int32Array.from([0x6f, 0x6b]))).toBe("ok");
  });

  it("decode of invalid UTF-8 uses U+FFFD like TextDecoder", () => {
    const cut = [0x61, 0xe2, 0x82]; // "a" then the first two bytes of €
    expect(tok.decode(cut)).toBe("a\uFFFD");
    expect(tok.decode([0xff, 0x62])).toBe("\uFFFDb");
    expect(tok.decode(cut)).toBe(new TextDecoder().decode(Uint8Array.from(cut)));
  });

  it("decode rejects ids outside [0, 256) naming the id", () => {
    expect(() => tok.decode([65, 256])).toThrow(/id 256 at position 1/);
    expect(() => tok.decode([-1])).toThrow(/\[0, 256\)/);
    expect(() => tok.decode([1.5])).toThrow(/1.5/);
  });

  it("has no special tokens and describes itself as tokenizer_config.json", () => {
    expect(tok.eosTokenId).toBeUndefined();
    expect(tok.toJSON()).toEqual({ kind: "byte", tokenizerConfig: { tokenizer_class: "ByteTokenizer", vocab_size: 256 } });
  });
});
