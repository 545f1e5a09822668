/** The contract every tokenizer in lora-lab meets: text <-> plain arrays of token ids. */
export interface Tokenizer {
  /** One more than the largest id `encode` can return: the size of a model's embedding table. */
  readonly vocabSize: number;
  encode(text: string): number[];
  decode(ids: ArrayLike<number>): string;
  readonly eosTokenId?: number;
  readonly bosTokenId?: number;
  readonly padTokenId?: number;
  /** A plain description that `tokenizerFromJSON` (and so `loadTokenizer`) rebuilds it from. */
  toJSON(): TokenizerDescription;
}

/** What `toJSON` returns: the contents of the files `saveTokenizer` writes, keyed by file. */
export type TokenizerDescription = ByteTokenizerDescription | HFTokenizerDescription;

export interface ByteTokenizerDescription {
  kind: "byte";
  /** tokenizer_config.json */
  tokenizerConfig: { tokenizer_class: "ByteTokenizer"; vocab_size: 256 };
}

export interface HFTokenizerDescription {
  kind: "hf";
  /** tokenizer.json, as Hugging Face `tokenizers` writes it. */
  tokenizerJson: Record<string, unknown>;
  /** tokenizer_config.json, as `transformers` writes it. */
  tokenizerConfig: Record<string, unknown>;
}

/** Checks ids before decoding so a bad id names itself instead of decoding to garbage. */
export function checkIds(ids: ArrayLike<number>, vocabSize: number, who: string): void {
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
      throw new RangeError(`${who}.decode: id ${id} at position ${i} is not a token id; expected an integer in [0, ${vocabSize})`);
    }
  }
}
