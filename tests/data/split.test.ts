import { describe, expect, it } from "vitest";
import { brownDocuments, splitDocuments } from "../../src/data/index.js";

const docs = Array.from({ length: 50 }, (_, i) => ({ id: `d${String(i).padStart(2, "0")}` }));
const ids = (xs: { id: string }[]) => xs.map((x) => x.id);

describe("splitDocuments", () => {
  it("is disjoint, covers every document once and keeps the input order", () => {
    const { train, validation } = splitDocuments(docs, { validationFraction: 0.2, seed: 3 });
    expect(validation).toHaveLength(10); // round(50 * 0.2)
    expect(train).toHaveLength(40);
    expect(new Set([...ids(train), ...ids(validation)]).size).toBe(50);
    expect(ids(train).filter((id) => ids(validation).includes(id))).toEqual([]);
    expect(ids(train)).toEqual([...ids(train)].sort());
    expect(ids(validation)).toEqual([...ids(validation)].sort());
    // whole documents: the very objects passed in
    for (const doc of [...train, ...validation]) expect(docs).toContain(doc);
  });

  it("is stable across calls and differs for another seed", () => {
    const a = splitDocuments(docs, { seed: 7 });
    const b = splitDocuments(docs, { seed: 7 });
    const c = splitDocuments(docs, { seed: 8 });
    expect(ids(a.validation)).toEqual(ids(b.validation));
    expect(ids(a.validation)).not.toEqual(ids(c.validation));
    expect(ids(splitDocuments(docs).validation)).toEqual(ids(splitDocuments(docs, { validationFraction: 0.1, seed: 0 }).validation));
  });

  it("keeps at least one document on each side when there are two or more", () => {
    expect(splitDocuments(docs.slice(0, 2), { validationFraction: 0.01 })).toMatchObject({ train: [{}], validation: [{}] });
    expect(splitDocuments(docs.slice(0, 3), { validationFraction: 0.99 }).train).toHaveLength(1);
    expect(splitDocuments(docs.slice(0, 1))).toEqual({ train: [docs[0]], validation: [] });
    expect(splitDocuments([])).toEqual({ train: [], validation: [] });
  });

  it("splits the 9 humor documents 8 / 1 at the default fraction", () => {
    const { train, validation } = splitDocuments(brownDocuments("humor"));
    expect([train.length, validation.length]).toEqual([8, 1]);
  });

  it("rejects a fraction outside (0, 1)", () => {
    expect(() => splitDocuments(docs, { validationFraction: 0 })).toThrow(/\(0, 1\).*got 0/);
    expect(() => splitDocuments(docs, { validationFraction: 1.5 })).toThrow(/1\.5/);
  });
});
