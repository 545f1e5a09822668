import { describe, expect, it } from "vitest";
import { brownDocuments, makeLmDataset } from "../../src/data/index.js";
import { ByteTokenizer, HFTokenizer } from "../../src/tokenizers/index.js";
import { EOS, TINY_CONFIG, tinyBpeJson } from "../tokenizers/tiny-bpe.js";

/** Undo stride === length tiling: consecutive windows share one token. */
const unwindow = (windows: Int32Array[]) => windows.flatMap((w, i) => [...(i === 0 ? w : w.subarray(1))]);

describe("makeLmDataset", () => {
  it("splits humor by document and tiles each side's UTF-8 bytes into windows", () => {
    const data = makeLmDataset({ tokenizer: new ByteTokenizer(), genres: "r", windowLength: 64, validationFraction: 0.1, seed: 0 });
    expect(data.documents.train).toHaveLength(8);
    expect(data.documents.validation).toHaveLength(1);
    const docs = new Map(brownDocuments("humor").map((d) => [d.id, d.text]));
    const bytes = (ids: string[]) => new TextEncoder().encode(ids.map((id) => docs.get(id)).join("\n\n"));
    const trainBytes = bytes(data.documents.train);
    const valBytes = bytes(data.documents.validation);
    expect(data.train).toHaveLength(Math.floor((trainBytes.length - 1) / 64));
    expect(data.validation).toHaveLength(Math.floor((valBytes.length - 1) / 64));
    expect(unwindow(data.train)).toEqual([...trainBytes.subarray(0, data.train.length * 64 + 1)]);
    expect(unwindow(data.validation)).toEqual([...valBytes.subarray(0, data.validation.length * 64 + 1)]);
    expect(data.train.every((w) => w.length === 65)).toBe(true);
  });

  it("is reproducible from the seed and splits differently for another", () => {
    const opts = { tokenizer: new ByteTokenizer(), genres: ["humor", "m"], windowLength: 32, validationFraction: 0.2 };
    const a = makeLmDataset({ ...opts, seed: 1 });
    expect(makeLmDataset({ ...opts, seed: 1 }).documents).toEqual(a.documents);
    const seeds = [2, 3, 4, 5].map((seed) => makeLmDataset({ ...opts, seed }).documents.validation.join());
    expect(seeds.some((v) => v !== a.documents.validation.join())).toBe(true);
  });

  it("separates documents with the tokenizer's EOS when it has one", () => {
    const tokenizer = new HFTokenizer(tinyBpeJson(), TINY_CONFIG);
    const data = makeLmDataset({ tokenizer, genres: "science_fiction", windowLength: 128, seed: 0 });
    expect(data.tokenizer).toBe(tokenizer);
    const eosCount = unwindow(data.train).filter((id) => id === EOS).length;
    expect(eosCount).toBe(data.documents.train.length - 1);
    const firstDoc = brownDocuments("m").find((d) => d.id === data.documents.train[0])!;
    const opening = tokenizer.decode(data.train[0]!.subarray(0, 100));
    expect(opening.length).toBeGreaterThan(100);
    expect(firstDoc.text.startsWith(opening)).toBe(true);
  });

  it("errors when a side is too short for one window", () => {
    expect(() => makeLmDataset({ tokenizer: new ByteTokenizer(), genres: "m", windowLength: 200_000, seed: 0 })).toThrow(/too short/);
  });
});
