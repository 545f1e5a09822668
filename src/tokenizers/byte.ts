import { checkIds, type ByteTokenizerDescription, type Tokenizer } from "./types.js";

/**
 * UTF-8 bytes as tokens (vocab 256, no special tokens): the default for small models, since it
 * needs no training, never meets an unknown token and keeps the embedding table tiny.
 */
export class ByteTokenizer implements Tokenizer {
  readonly vocabSize = 256;
  // No special tokens: all 256 ids are bytes, so documents are joined with text ("\n\n") instead.
  readonly eosTokenId?: number;
  readonly bosTokenId?: number;
  readonly padTokenId?: number;
  private readonly encoder = new TextEncoder();
  // ignoreBOM keeps a leading U+FEFF, so decode(encode(s)) === s for every string s.
  private readonly decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

  encode(text: string): number[] {
    return Array.from(this.encoder.encode(text));
  }

  /** Invalid UTF-8 (e.g. a window cut mid-character) decodes to U+FFFD, as TextDecoder does. */
  decode(ids: ArrayLike<number>): string {
    checkIds(ids, this.vocabSize, "ByteTokenizer");
    return this.decoder.decode(Uint8Array.from(ids as ArrayLike<number>));
  }

  toJSON(): ByteTokenizerDescription {
    return { kind: "byte", tokenizerConfig: { tokenizer_class: "ByteTokenizer", vocab_size: 256 } };
  }
}
