import { mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { Dataset, DataError, loadDataset, streamDataset } from "../../src/data/index.js";

const dir = mkdtempSync(join(tmpdir(), "lora-lab-data-"));
function file(name: string, content: string | Buffer): string {
  const path = join(dir, name);
  mkdirSync(join(path, ".."), { recursive: true });
  writeFileSync(path, content);
  return path;
}

async function rejection(p: Promise<unknown>): Promise<DataError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(DataError);
  return err as DataError;
}

describe("loadDataset: JSON lines", () => {
  it("reads one object a line with its file and line, skipping blank lines", async () => {
    const path = file("qa.jsonl", '{"prompt":"a","completion":"b"}\n\n{"prompt":"c","completion":"d","id":2}\r\n');
    const ds = await loadDataset(path);
    expect(ds.records).toEqual([
      { prompt: "a", completion: "b" },
      { prompt: "c", completion: "d", id: 2 },
    ]);
    expect(ds.sources).toEqual([
      { file: path, line: 1 },
      { file: path, line: 3 },
    ]);
    expect(ds.skipped.count).toBe(0);
  });

  it("names the file and line of a broken JSON line, or skips and counts it", async () => {
    const path = file("broken.jsonl", '{"a":1}\n{"a":2\n[1,2]\n{"a":4}\n');
    const err = await rejection(loadDataset(path));
    expect(err.message).toMatch(new RegExp(`broken\\.jsonl:2: not valid JSON`));
    expect([err.file, err.line]).toEqual([path, 2]);
    const ds = await loadDataset(path, { onBadRecord: "skip" });
    expect(ds.records).toEqual([{ a: 1 }, { a: 4 }]);
    expect(ds.skipped.count).toBe(2);
    expect(ds.skipped.examples.map((s) => s.line)).toEqual([2, 3]);
    expect(ds.skipped.examples[1]!.reason).toMatch(/expected a JSON object a line; got an array/);
  });

  it("names the line and byte of invalid UTF-8", async () => {
    const path = file("latin1.jsonl", Buffer.concat([Buffer.from('{"t":"ok"}\n{"t":"caf'), Buffer.from([0xe9]), Buffer.from('"}\n')]));
    const err = await rejection(loadDataset(path));
    expect(err.message).toContain("latin1.jsonl:2: invalid UTF-8 at byte 10 of the line (byte 0xe9)");
    const ds = await loadDataset(path, { onBadRecord: "skip" });
    expect(ds.length).toBe(1);
    expect(ds.skipped.count).toBe(1);
  });

  it("checks required columns on every record, naming file, line and field", async () => {
    const path = file("cols.jsonl", '{"prompt":"a","completion":"b"}\n{"prompt":"c"}\n');
    const err = await rejection(loadDataset(path, { columns: ["prompt", "completion"] }));
    expect(err.message).toContain('cols.jsonl:2: record has no field "completion"; fields present: "prompt"');
    expect(err.field).toBe("completion");
    const ds = await loadDataset(path, { columns: ["prompt", "completion"], onBadRecord: "skip" });
    expect(ds.length).toBe(1);
    expect(ds.skipped.count).toBe(1);
  });
});

describe("loadDataset: JSON documents", () => {
  it("reads a top-level list, or the list under `field`", async () => {
    expect((await loadDataset(file("list.json", '[{"a":1},\n {"a":2}]'))).records).toEqual([{ a: 1 }, { a: 2 }]);
    const nested = file("nested.json", '{"version": 1, "data": [{"a": 3}]}');
    expect((await loadDataset(nested, { field: "data" })).records).toEqual([{ a: 3 }]);
    const err = await rejection(loadDataset(nested, { field: "rows" }));
    expect(err.message).toMatch(/field "rows" not found/);
  });

  it("reads a .json file of JSON lines, as datasets does", async () => {
    expect((await loadDataset(file("lines.json", '{"a":1}\n{"a":2}\n'))).records).toEqual([{ a: 1 }, { a: 2 }]);
  });

  it("names the line of a syntax error in a JSON document", async () => {
    const err = await rejection(loadDataset(file("bad.json", '[\n{"a":1},\n{"a":}\n]')));
    expect(err.message).toMatch(/bad\.json:3: not valid JSON/);
  });
});

describe("loadDataset: CSV", () => {
  it("maps rows to header names, with quoted cells across lines", async () => {
    const path = file("qa.csv", 'question,answer\n"Why, then?","Because\nit is"\nplain,row\n');
    const ds = await loadDataset(path);
    expect(ds.records).toEqual([
      { question: "Why, then?", answer: "Because\nit is" },
      { question: "plain", answer: "row" },
    ]);
    expect(ds.sources.map((s) => s.line)).toEqual([3, 4]);
    expect(ds.columnNames).toEqual(["question", "answer"]);
  });

  it("reads TSV by extension", async () => {
    expect((await loadDataset(file("t.tsv", "a\tb\n1\t2\n"))).records).toEqual([{ a: "1", b: "2" }]);
  });

  it("names the missing column of a short row, or skips and counts it", async () => {
    const path = file("short.csv", "prompt,completion\nx,y\nonly\n");
    const err = await rejection(loadDataset(path));
    expect(err.message).toContain('short.csv:3: row has 1 cells, the header 2 (prompt, completion); missing column "completion"');
    const ds = await loadDataset(path, { onBadRecord: "skip" });
    expect(ds.records).toEqual([{ prompt: "x", completion: "y" }]);
    expect(ds.skipped.count).toBe(1);
  });

  it("names the line of an unclosed quote", async () => {
    const err = await rejection(loadDataset(file("quote.csv", 'a,b\n1,"open\n')));
    expect(err.message).toMatch(/quote\.csv:\d+: not valid CSV/);
  });
});

describe("loadDataset: text and folders", () => {
  it("reads a record a line, counting the empty lines it skips", async () => {
    const path = file("lines.txt", "\uFEFFfirst\n\nsecond\r\n   \nthird");
    const ds = await loadDataset(path);
    expect(ds.records).toEqual([{ text: "first" }, { text: "second" }, { text: "third" }]);
    expect(ds.skipped.count).toBe(2);
    expect(ds.skipped.examples.map((s) => [s.line, s.reason])).toEqual([
      [2, `${path}:2: empty line`],
      [4, `${path}:4: empty line`],
    ]);
  });

  it("reads paragraphs and whole documents", async () => {
    const path = file("doc.txt", "p1 a\np1 b\n\n\np2\n\n");
    expect((await loadDataset(path, { sampleBy: "paragraph" })).records).toEqual([{ text: "p1 a\np1 b" }, { text: "p2" }]);
    expect((await loadDataset(path, { sampleBy: "document" })).records).toEqual([{ text: "p1 a\np1 b\n\n\np2" }]);
  });

  it("reads a folder recursively in path order, reporting the files it ignores", async () => {
    file("corpus/b.txt", "B");
    file("corpus/a/z.txt", "AZ");
    file("corpus/notes.pdf", "%PDF");
    file("corpus/.hidden.txt", "hidden");
    const ds = await loadDataset(join(dir, "corpus"), { sampleBy: "document" });
    expect(ds.records).toEqual([{ text: "AZ" }, { text: "B" }]);
    expect(ds.skipped.ignoredFiles).toEqual([join(dir, "corpus/notes.pdf")]);
  });

  it("rejects a missing path and an unknown extension with the path", async () => {
    expect((await rejection(loadDataset(join(dir, "nope.jsonl")))).message).toMatch(/nope\.jsonl: cannot read: ENOENT/);
    expect((await rejection(loadDataset(file("x.parquet", "")))).message).toMatch(/x\.parquet: unknown file type "\.parquet"/);
  });
});

describe("streamDataset", () => {
  it("reads a file larger than one chunk record by record, lines split across chunks intact", async () => {
    const rows = Array.from({ length: 30000 }, (_, i) => JSON.stringify({ i, text: "é".repeat(i % 50) }));
    const path = file("big.jsonl", rows.join("\n") + "\n"); // ~2.2 MB: several 1 MiB chunks, cuts inside "é"
    const wrong: number[] = [];
    let n = 0;
    for await (const { record, source } of streamDataset(path)) {
      if (JSON.stringify(record) !== rows[n] || source.line !== n + 1) wrong.push(n);
      n++;
    }
    expect(wrong).toEqual([]);
    expect(n).toBe(30000);
  });
});

describe("Dataset", () => {
  const ds = Dataset.fromRecords(Array.from({ length: 10 }, (_, i) => ({ i })));

  it("shuffles by seed: the same seed the same order, another seed another", () => {
    const order = (d: Dataset) => d.records.map((r) => r["i"]);
    expect(order(ds.shuffle(1))).toEqual(order(ds.shuffle(1)));
    expect(order(ds.shuffle(1))).not.toEqual(order(ds.shuffle(2)));
    expect([...order(ds.shuffle(1))].sort()).toEqual(order(ds));
  });

  it("splits into disjoint train and test sides of the asked size, keeping sources", () => {
    const { train, test } = ds.trainTestSplit({ testSize: 0.3, seed: 4 });
    expect(test.length).toBe(3);
    expect(train.length).toBe(7);
    const all = [...train.records, ...test.records].map((r) => r["i"]).sort((a, b) => (a as number) - (b as number));
    expect(all).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(test.sources.map((s) => s.line)).toEqual(test.records.map((r) => (r["i"] as number) + 1));
    expect(ds.trainTestSplit({ testSize: 2 }).test.length).toBe(2);
    expect(() => ds.trainTestSplit({ testSize: 10 })).toThrow(/testSize/);
  });

  it("column() names the record that lacks the field", () => {
    const mixed = Dataset.fromRecords([{ text: "a" }, { body: "b" }], "mem");
    expect(() => mixed.textColumn("text")).toThrow('mem:2: record has no field "text"; fields present: "body"');
    expect(() => Dataset.fromRecords([{ text: 3 }]).textColumn("text")).toThrow(/field "text" is number 3; expected a string/);
  });
});

describe("loadDataset progress", () => {
  it("draws a bar of the bytes read on stderr when asked, and nothing when not (by default only large loads on a terminal)", async () => {
    const path = file("progress.jsonl", '{"a":1}\n'.repeat(1000));
    const stderrOf = async (progress: boolean) => {
      const written: string[] = [];
      const original = process.stderr.write.bind(process.stderr);
      process.stderr.write = ((chunk: string | Uint8Array) => {
        written.push(String(chunk));
        return true;
      }) as typeof process.stderr.write;
      try {
        expect((await loadDataset(path, { progress })).length).toBe(1000);
      } finally {
        process.stderr.write = original;
      }
      return written.join("");
    };
    expect(await stderrOf(true)).toMatch(/loading \|.*\| 100% \| 0\.0\/0\.0 MB/);
    expect(await stderrOf(false)).toBe("");
  });
});

describe("streamDataset passes", () => {
  it("counts each pass's skips afresh", async () => {
    const stream = streamDataset(file("twice.txt", "a\n\nb\n"));
    for (let pass = 0; pass < 2; pass++) {
      const texts: unknown[] = [];
      for await (const { record } of stream) texts.push(record["text"]);
      expect(texts).toEqual(["a", "b"]);
      expect(stream.skipped.count).toBe(1);
    }
  });
});
