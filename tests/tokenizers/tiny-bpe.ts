/**
 * A tiny GPT-2 style byte-level BPE tokenizer.json, written out here rather than produced by the
 * code under test: 256 byte tokens (id = byte value), five merges, one special token.
 */

/** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to U+0100 onwards. */
export function bytesToUnicode(): string[] {
  const printable: number[] = [];
  for (let b = 0x21; b <= 0x7e; b++) printable.push(b);
  for (let b = 0xa1; b <= 0xac; b++) printable.push(b);
  for (let b = 0xae; b <= 0xff; b++) printable.push(b);
  const table: string[] = new Array(256);
  let next = 0;
  for (let b = 0; b < 256; b++) {
    table[b] = printable.includes(b) ? String.fromCodePoint(b) : String.fromCodePoint(256 + next++);
  }
  return table;
}

export const MERGES = ["h e", "Ġ t", "Ġt he", "l l", "ll o"];
// ids of the merged tokens, in merge order after the 256 bytes
export const HE = 256,
  G_T = 257,
  G_THE = 258,
  LL = 259,
  LLO = 260,
  EOS = 261;

export function tinyBpeJson(): Record<string, unknown> {
  const vocab: Record<string, number> = {};
  bytesToUnicode().forEach((ch, b) => (vocab[ch] = b));
  Object.assign(vocab, { he: HE, Ġt: G_T, Ġthe: G_THE, ll: LL, llo: LLO });
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: [
      { id: EOS, content: "<|endoftext|>", single_word: false, lstrip: false, rstrip: false, normalized: false, special: true },
    ],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: { type: "ByteLevel", add_prefix_space: true, trim_offsets: false, use_regex: true },
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      fuse_unk: false,
      byte_fallback: false,
      vocab: { ...vocab, "<|endoftext|>": EOS },
      merges: MERGES,
    },
  };
}

export const TINY_CONFIG = {
  tokenizer_class: "GPT2Tokenizer",
  bos_token: "<|endoftext|>",
  eos_token: { content: "<|endoftext|>", lstrip: false, normalized: true, rstrip: false, single_word: false, special: true },
  pad_token: null,
  model_max_length: 1024,
};
