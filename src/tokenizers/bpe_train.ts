/**
 * Trains a GPT-2 style byte-level BPE tokenizer (no npm package trains one without a native build):
 * text is cut by GPT-2's pre-tokenizer regex, each piece's UTF-8 bytes become symbols (printed
 * through GPT-2's bytes_to_unicode, so "Ġ" is a space), and the most frequent adjacent pair is merged
 * into a new symbol until the vocabulary is full. The result is a Hugging Face tokenizer.json that
 * `HFTokenizer` and transformers' `GPT2TokenizerFast` load.
 */
import { HFTokenizer } from "./hf.js";

/** GPT-2's pre-tokenizer (tokenizers' ByteLevel with use_regex): contractions, letters, digits, other, spaces. */
export const GPT2_PRETOKENIZE = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

/** GPT-2's bytes_to_unicode: printable bytes stand for themselves, the other 68 for U+0100 onwards. */
export function bytesToUnicode(): string[] {
  const printable = (b: number) => (b >= 0x21 && b <= 0x7e) || (b >= 0xa1 && b <= 0xac) || (b >= 0xae && b <= 0xff);
  let next = 256;
  return Array.from({ length: 256 }, (_, b) => String.fromCodePoint(printable(b) ? b : next++));
}

export interface BpeTrainOptions {
  /** Size of the finished vocabulary: 256 bytes + merges + special tokens. */
  vocabSize: number;
  /** A pair seen fewer times than this is never merged (tokenizers' BpeTrainer min_frequency). */
  minFrequency?: number;
  /** Tokens that are never split and never learned from, appended after the merges (GPT-2: "<|endoftext|>"). */
  specialTokens?: string[];
}

export interface TrainedBpe {
  /** The merges in the order learned, as [left, right] token strings. */
  merges: [string, string][];
  /** tokenizer.json, as Hugging Face tokenizers writes a GPT-2 tokenizer. */
  tokenizerJson: Record<string, unknown>;
  /** tokenizer_config.json: the first special token is bos, eos and unk, as in GPT-2. */
  tokenizerConfig: Record<string, unknown>;
  /** The trainer's own segmentation of `text` into ids (the training words' final symbols, merges by rank for unseen ones). */
  encode(text: string): number[];
  /** The tokenizer.json loaded by `HFTokenizer`. */
  tokenizer(): HFTokenizer;
}

interface Word {
  ids: number[];
  count: number;
}

/**
 * Learns merges from `texts` by pair frequency. Ties go to the pair whose (left, right) token
 * strings sort first, so the result does not depend on hash or insertion order.
 */
export function trainBpeTokenizer(texts: Iterable<string>, options: BpeTrainOptions): TrainedBpe {
  const { vocabSize, minFrequency = 2, specialTokens = [] } = options;
  const maxMerges = vocabSize - 256 - specialTokens.length;
  if (!Number.isInteger(vocabSize) || maxMerges < 0) {
    throw new RangeError(
      `trainBpeTokenizer: vocabSize ${vocabSize} must be an integer >= 256 bytes + ${specialTokens.length} special tokens`,
    );
  }
  const byteChar = bytesToUnicode();
  const tokens = [...byteChar]; // id -> token string; ids 0-255 are the bytes themselves
  const pieceCounts = new Map<string, number>();
  for (const text of texts) for (const piece of pretokenize(text, specialTokens)) pieceCounts.set(piece, (pieceCounts.get(piece) ?? 0) + 1);
  const pieces = [...pieceCounts.keys()];
  const words: Word[] = pieces.map((p) => ({ ids: [...utf8(p)], count: pieceCounts.get(p)! }));

  // Pair counts and the words each pair occurs in; a pair key is left * KEY + right.
  const KEY = vocabSize;
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const countPairs = (w: number, sign: 1 | -1, added?: Set<number>) => {
    const { ids, count } = words[w];
    for (let i = 0; i + 1 < ids.length; i++) {
      const key = ids[i] * KEY + ids[i + 1];
      pairCount.set(key, (pairCount.get(key) ?? 0) + sign * count);
      if (sign > 0) {
        let set = pairWords.get(key);
        if (!set) pairWords.set(key, (set = new Set()));
        set.add(w);
        added?.add(key);
      }
    }
  };
  words.forEach((_, w) => countPairs(w, 1));

  // Max-heap with lazy updates: counts of existing pairs only fall, so a popped stale entry is re-pushed with its count.
  const pairText = (key: number) => `${tokens[Math.floor(key / KEY)]} ${tokens[key % KEY]}`; // " " sorts below every byte char
  const before = (x: HeapEntry, y: HeapEntry) => x.count > y.count || (x.count === y.count && pairText(x.key) < pairText(y.key));
  const heap = new Heap(before);
  for (const [key, count] of pairCount) heap.push({ key, count });

  const merges: [string, string][] = [];
  while (merges.length < maxMerges && heap.size > 0) {
    const top = heap.pop()!;
    const count = pairCount.get(top.key) ?? 0;
    if (count !== top.count) {
      if (count > 0) heap.push({ key: top.key, count });
      continue;
    }
    if (count < minFrequency) break;
    const left = Math.floor(top.key / KEY);
    const right = top.key % KEY;
    const merged = tokens.length;
    tokens.push(tokens[left] + tokens[right]);
    merges.push([tokens[left], tokens[right]]);
    const added = new Set<number>();
    for (const w of pairWords.get(top.key)!) {
      countPairs(w, -1);
      words[w].ids = mergePair(words[w].ids, left, right, merged);
      countPairs(w, 1, added);
    }
    pairWords.delete(top.key);
    for (const key of added) if (Math.floor(key / KEY) === merged || key % KEY === merged) heap.push({ key, count: pairCount.get(key)! });
  }

  const vocab: Record<string, number> = {};
  tokens.forEach((t, id) => (vocab[t] = id));
  const special = specialTokens.map((content, i) => ({ id: tokens.length + i, content }));
  const tokenizerJson = gpt2TokenizerJson(vocab, merges, special);
  const first = specialTokens[0];
  const tokenizerConfig: Record<string, unknown> = {
    tokenizer_class: "GPT2Tokenizer",
    add_prefix_space: false,
    clean_up_tokenization_spaces: false,
    ...(first === undefined ? {} : { bos_token: first, eos_token: first, unk_token: first }),
  };

  const trained = new Map(pieces.map((p, i) => [p, words[i].ids]));
  const rank = new Map(merges.map(([a, b], r) => [vocab[a] * KEY + vocab[b], r])); // the merge of rank r made id 256 + r
  const specialId = new Map(special.map((s) => [s.content, s.id]));
  const encodePiece = (piece: string) => trained.get(piece) ?? applyMerges([...utf8(piece)], rank, KEY);
  return {
    merges,
    tokenizerJson,
    tokenizerConfig,
    encode: (text) =>
      splitSpecial(text, specialTokens).flatMap((part) =>
        specialId.has(part) ? [specialId.get(part)!] : pretokenizeRaw(part).flatMap(encodePiece),
      ),
    tokenizer: () => new HFTokenizer(tokenizerJson, tokenizerConfig),
  };
}

const encoder = new TextEncoder();
const utf8 = (s: string) => encoder.encode(s);

/** Text between special tokens, cut by GPT-2's regex; the special tokens themselves are dropped. */
function pretokenize(text: string, specialTokens: readonly string[]): string[] {
  return splitSpecial(text, specialTokens)
    .filter((part) => !specialTokens.includes(part))
    .flatMap(pretokenizeRaw);
}

function pretokenizeRaw(text: string): string[] {
  return text.match(GPT2_PRETOKENIZE) ?? [];
}

/** `text` cut around every occurrence of a special token, the tokens kept as their own parts (longest first). */
function splitSpecial(text: string, specialTokens: readonly string[]): string[] {
  if (specialTokens.length === 0) return [text];
  const escaped = [...specialTokens].sort((a, b) => b.length - a.length).map((s) => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"));
  return text.split(new RegExp(`(${escaped.join("|")})`)).filter((part) => part !== "");
}

/** Every non-overlapping (left, right), scanned left to right, replaced by `merged`. */
function mergePair(ids: number[], left: number, right: number, merged: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < ids.length; i++) {
    if (i + 1 < ids.length && ids[i] === left && ids[i + 1] === right) (out.push(merged), i++);
    else out.push(ids[i]);
  }
  return out;
}

/** BPE encoding of one piece: merge the lowest-ranked pair present until none is a merge. */
function applyMerges(ids: number[], rank: Map<number, number>, key: number): number[] {
  for (;;) {
    let best = -1;
    let bestKey = 0;
    for (let i = 0; i + 1 < ids.length; i++) {
      const k = ids[i] * key + ids[i + 1];
      const r = rank.get(k);
      if (r !== undefined && (best < 0 || r < best)) ((best = r), (bestKey = k));
    }
    if (best < 0) return ids;
    ids = mergePair(ids, Math.floor(bestKey / key), bestKey % key, 256 + best);
  }
}

/** tokenizer.json of a GPT-2 style byte-level BPE, field for field as tokenizers 0.21 saves one. */
function gpt2TokenizerJson(vocab: Record<string, number>, merges: [string, string][], special: { id: number; content: string }[]) {
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  for (const s of special) vocab[s.content] = s.id;
  return {
    version: "1.0",
    truncation: null,
    padding: null,
    added_tokens: special.map((s) => ({ ...s, single_word: false, lstrip: false, rstrip: false, normalized: true, special: true })),
    normalizer: null,
    pre_tokenizer: byteLevel,
    post_processor: { ...byteLevel, trim_offsets: false },
    decoder: byteLevel,
    model: {
      type: "BPE",
      dropout: null,
      unk_token: null,
      continuing_subword_prefix: "",
      end_of_word_suffix: "",
      fuse_unk: false,
      byte_fallback: false,
      ignore_merges: false,
      vocab,
      merges,
    },
  };
}

interface HeapEntry {
  key: number;
  count: number;
}

/** A binary heap ordered by `before` (the entry that should come out first). */
class Heap {
  private readonly items: HeapEntry[] = [];
  constructor(private readonly before: (a: HeapEntry, b: HeapEntry) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  push(item: HeapEntry): void {
    const a = this.items;
    a.push(item);
    for (let i = a.length - 1; i > 0;) {
      const parent = (i - 1) >> 1;
      if (!this.before(a[i], a[parent])) break;
      [a[i], a[parent]] = [a[parent], a[i]];
      i = parent;
    }
  }

  pop(): HeapEntry | undefined {
    const a = this.items;
    const top = a[0];
    const last = a.pop();
    if (a.length > 0 && last) {
      a[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let best = i;
        if (l < a.length && this.before(a[l], a[best])) best = l;
        if (r < a.length && this.before(a[r], a[best])) best = r;
        if (best === i) break;
        [a[i], a[best]] = [a[best], a[i]];
        i = best;
      }
    }
    return top;
  }
}
