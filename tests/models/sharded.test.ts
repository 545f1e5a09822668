/**
 * Sharded checkpoints (model.safetensors.index.json + shards), locally and from the hub. The shards
 * are assembled here byte by byte (8-byte little-endian header length, header JSON, raw tensor
 * bytes) from the golden GPT-2 file that tests/fixtures/make_gpt2_golden.py wrote with PyTorch,
 * independently of lora-lab's safetensors writer; the index is written as transformers writes it
 * (metadata.total_size, weight_map from tensor name to shard file).
 */
import { mkdtempSync, mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it, vi } from "vitest";
import { ready } from "../../src/engine/index.js";
import { fromPretrained, type GPT2LMHeadModel } from "../../src/models/index.js";
import { fakeHub } from "./fake_hub.js";

const GOLDEN = fileURLToPath(new URL("../fixtures/gpt2-golden", import.meta.url));
const expected = JSON.parse(readFileSync(join(GOLDEN, "expected.json"), "utf8")) as { input_ids: number[][]; logits: number[] };
const work = mkdtempSync(join(tmpdir(), "lora-lab-sharded-"));
const SHARDS = 3;

interface RawTensor {
  dtype: string;
  shape: number[];
  bytes: Uint8Array;
}

/** The tensors of a safetensors file, parsed here (not by lora-lab). */
function parseSafetensors(file: Uint8Array): Map<string, RawTensor> {
  const n = Number(new DataView(file.buffer, file.byteOffset).getBigUint64(0, true));
  const header = JSON.parse(new TextDecoder().decode(file.subarray(8, 8 + n))) as Record<
    string,
    { dtype: string; shape: number[]; data_offsets: [number, number] }
  >;
  const out = new Map<string, RawTensor>();
  for (const [name, t] of Object.entries(header)) {
    if (name === "__metadata__") continue;
    out.set(name, { dtype: t.dtype, shape: t.shape, bytes: file.subarray(8 + n + t.data_offsets[0], 8 + n + t.data_offsets[1]) });
  }
  return out;
}

/** One safetensors file from raw tensors: header padded with spaces to 8 bytes, data in name order. */
function assembleSafetensors(tensors: [string, RawTensor][]): Uint8Array {
  const header: Record<string, unknown> = { __metadata__: { format: "pt" } };
  let offset = 0;
  for (const [name, t] of tensors) {
    header[name] = { dtype: t.dtype, shape: t.shape, data_offsets: [offset, offset + t.bytes.length] };
    offset += t.bytes.length;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - (json.length % 8)) % 8);
  const out = new Uint8Array(8 + json.length + offset);
  new DataView(out.buffer).setBigUint64(0, BigInt(json.length), true);
  out.set(new TextEncoder().encode(json), 8);
  let at = 8 + json.length;
  for (const [, t] of tensors) {
    out.set(t.bytes, at);
    at += t.bytes.length;
  }
  return out;
}

/** The golden GPT-2 as `SHARDS` shard files and their index (tensor i goes to shard i % SHARDS). */
function shardedFiles(): Record<string, Uint8Array> {
  const tensors = [...parseSafetensors(new Uint8Array(readFileSync(join(GOLDEN, "model.safetensors"))))].sort(([a], [b]) =>
    a < b ? -1 : 1,
  );
  const shardName = (s: number) => `model-${String(s + 1).padStart(5, "0")}-of-${String(SHARDS).padStart(5, "0")}.safetensors`;
  const files: Record<string, Uint8Array> = { "config.json": new Uint8Array(readFileSync(join(GOLDEN, "config.json"))) };
  const weightMap: Record<string, string> = {};
  for (let s = 0; s < SHARDS; s++) {
    const part = tensors.filter((_, i) => i % SHARDS === s);
    files[shardName(s)] = assembleSafetensors(part);
    for (const [name] of part) weightMap[name] = shardName(s);
  }
  const totalSize = tensors.reduce((sum, [, t]) => sum + t.bytes.length, 0);
  files["model.safetensors.index.json"] = new TextEncoder().encode(
    JSON.stringify({ metadata: { total_size: totalSize }, weight_map: weightMap }, null, 2),
  );
  return files;
}

function writeFolder(name: string, files: Record<string, Uint8Array>): string {
  const dir = join(work, name);
  mkdirSync(dir, { recursive: true });
  for (const [f, bytes] of Object.entries(files)) writeFileSync(join(dir, f), bytes);
  return dir;
}

let single: Float32Array;
beforeAll(async () => {
  await ready({ backend: "wasm" });
  vi.spyOn(console, "debug").mockImplementation(() => {});
  const model = await fromPretrained<GPT2LMHeadModel>(GOLDEN);
  single = model.forward(expected.input_ids).dataSync() as Float32Array;
  model.dispose();
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("sharded checkpoints", () => {
  it("a local folder of 3 shards and an index loads the same weights as the single file (same logits, PyTorch's to 1e-4)", async () => {
    const files = shardedFiles();
    expect(Object.keys(files).filter((f) => f.endsWith(".safetensors"))).toHaveLength(SHARDS);
    const model = await fromPretrained<GPT2LMHeadModel>(writeFolder("local", files));
    const logits = model.forward(expected.input_ids).dataSync();
    expect(logits).toEqual(single);
    expect(Math.max(...Array.from(logits, (v, i) => Math.abs(v - expected.logits[i])))).toBeLessThan(1e-4);
    model.dispose();
  });

  it("a hub id with an index downloads exactly the shards it names, once, and loads them", async () => {
    const files = shardedFiles();
    const hub = fakeHub("tester/gpt2-sharded", files);
    const cacheDir = join(work, "cache");
    const model = await fromPretrained<GPT2LMHeadModel>("tester/gpt2-sharded", { cacheDir, fetch: hub.fetch });
    expect(model.forward(expected.input_ids).dataSync()).toEqual(single);
    model.dispose();
    const shardRequests = () => hub.requests.filter((p) => /model-\d{5}-of-\d{5}\.safetensors$/.test(p)).map((p) => p.split("/").pop());
    expect([...new Set(shardRequests())].sort()).toEqual(
      Object.keys(files)
        .filter((f) => f.startsWith("model-"))
        .sort(),
    );
    const folder = join(cacheDir, "tester--gpt2-sharded", "main");
    for (const f of Object.keys(files)) expect(new Uint8Array(readFileSync(join(folder, f)))).toEqual(files[f]);
    // A second load reads the cache: no shard is requested again.
    const before = shardRequests().length;
    (await fromPretrained<GPT2LMHeadModel>("tester/gpt2-sharded", { cacheDir, fetch: hub.fetch })).dispose();
    expect(shardRequests().length).toBe(before);
  });

  it("names the missing shard, locally and on the hub", async () => {
    const files = shardedFiles();
    const lost = "model-00002-of-00003.safetensors";
    const { [lost]: _, ...rest } = files;
    await expect(fromPretrained(writeFolder("missing-shard", rest))).rejects.toThrow(
      /model\.safetensors\.index\.json names the shard model-00002-of-00003\.safetensors, which is missing/,
    );
    const hub = fakeHub("tester/missing-shard", rest);
    await expect(fromPretrained("tester/missing-shard", { cacheDir: join(work, "cache2"), fetch: hub.fetch })).rejects.toThrow(
      /"tester\/missing-shard" \(revision main\) has no model-00002-of-00003\.safetensors/,
    );
  });

  it("an index without weight_map is an error that names the file", async () => {
    const files = shardedFiles();
    files["model.safetensors.index.json"] = new TextEncoder().encode(JSON.stringify({ metadata: {} }));
    await expect(fromPretrained(writeFolder("no-map", files))).rejects.toThrow(/model\.safetensors\.index\.json has no "weight_map"/);
  });
});
