import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import {
  DTYPE_BYTES,
  SafetensorsError,
  parseSafetensors,
  readSafetensors,
  serializeSafetensors,
  toFloat32,
  writeSafetensors,
  type SafeTensor,
  type SafetensorsDtype,
} from "../../src/io/index.js";

const FIXTURES = join(import.meta.dirname, "..", "fixtures", "io");
const enc = new TextEncoder();
const tmp = mkdtempSync(join(tmpdir(), "lora-lab-io-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

/** 8-byte little-endian length (defaults to the header's own length), header text, data bytes. */
function file(header: string, data: ArrayLike<number> = [], n?: number | bigint): Uint8Array {
  const h = enc.encode(header);
  const len = new Uint8Array(8);
  new DataView(len.buffer).setBigUint64(0, BigInt(n ?? h.length), true);
  return Uint8Array.from([...len, ...h, ...Array.from(data)]);
}

const zeros = (k: number) => new Array<number>(k).fill(0);

describe("serializeSafetensors", () => {
  // Expected bytes copied from the Rust crate's own tests (safetensors/src/tensor.rs).
  const f32Bytes = [0, 0, 0, 0, 0, 0, 128, 63, 0, 0, 0, 64, 0, 0, 64, 64, 0, 0, 128, 64, 0, 0, 160, 64];
  const attn = (shape: number[]): SafeTensor => ({ dtype: "F32", shape, data: new Float32Array([0, 1, 2, 3, 4, 5]) });

  it("matches the crate's test_serialization bytes", () => {
    expect([...serializeSafetensors({ "attn.0": attn([1, 2, 3]) })]).toEqual([
      64,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      123,
      34,
      97,
      116,
      116,
      110,
      46,
      48,
      34,
      58,
      123,
      34,
      100,
      116,
      121,
      112,
      101,
      34,
      58,
      34,
      70,
      51,
      50,
      34,
      44,
      34,
      115,
      104,
      97,
      112,
      101,
      34,
      58,
      91,
      49,
      44,
      50,
      44,
      51,
      93,
      44,
      34,
      100,
      97,
      116,
      97,
      95,
      111,
      102,
      102,
      115,
      101,
      116,
      115,
      34,
      58,
      91,
      48,
      44,
      50,
      52,
      93,
      125,
      125,
      ...f32Bytes,
    ]);
  });

  it("pads the header with spaces to a multiple of 8 as the crate's test_serialization_forced_alignement", () => {
    expect([...serializeSafetensors({ attn0: attn([1, 1, 2, 3]) })]).toEqual([
      72,
      0,
      0,
      0,
      0,
      0,
      0,
      0,
      123,
      34,
      97,
      116,
      116,
      110,
      48,
      34,
      58,
      123,
      34,
      100,
      116,
      121,
      112,
      101,
      34,
      58,
      34,
      70,
      51,
      50,
      34,
      44,
      34,
      115,
      104,
      97,
      112,
      101,
      34,
      58,
      91,
      49,
      44,
      49,
      44,
      50,
      44,
      51,
      93,
      44,
      34,
      100,
      97,
      116,
      97,
      95,
      111,
      102,
      102,
      115,
      101,
      116,
      115,
      34,
      58,
      91,
      48,
      44,
      50,
      52,
      93,
      125,
      125,
      32,
      32,
      32,
      32,
      32,
      32,
      32,
      ...f32Bytes,
    ]);
  });

  it("writes an empty dict, with and without metadata, as the crate's test_empty", () => {
    expect([...serializeSafetensors({})]).toEqual([8, 0, 0, 0, 0, 0, 0, 0, 123, 125, 32, 32, 32, 32, 32, 32]);
    expect([...serializeSafetensors({}, { framework: "pt" })]).toEqual([
      40, 0, 0, 0, 0, 0, 0, 0, 123, 34, 95, 95, 109, 101, 116, 97, 100, 97, 116, 97, 95, 95, 34, 58, 123, 34, 102, 114, 97, 109, 101, 119,
      111, 114, 107, 34, 58, 34, 112, 116, 34, 125, 125, 32, 32, 32, 32, 32,
    ]);
  });

  it("orders by dtype alignment descending then name, offsets contiguous, metadata first (hand-built bytes)", () => {
    const out = serializeSafetensors(
      {
        b: { dtype: "U8", shape: [3], data: new Uint8Array([1, 2, 3]) },
        a: { dtype: "F16", shape: [2], data: new Uint16Array([0x3c00, 0xc000]) },
        z: { dtype: "F32", shape: [], data: new Float32Array([1.5]) },
        c: { dtype: "I64", shape: [1], data: new BigInt64Array([-2n]) },
      },
      { format: "pt" },
    );
    const header =
      '{"__metadata__":{"format":"pt"},' +
      '"c":{"dtype":"I64","shape":[1],"data_offsets":[0,8]},' +
      '"z":{"dtype":"F32","shape":[],"data_offsets":[8,12]},' +
      '"a":{"dtype":"F16","shape":[2],"data_offsets":[12,16]},' +
      '"b":{"dtype":"U8","shape":[3],"data_offsets":[16,19]}}';
    const expected = [
      248,
      0,
      0,
      0,
      0,
      0,
      0,
      0, // 247 bytes of JSON + 1 space
      ...enc.encode(header),
      0x20,
      0xfe,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff,
      0xff, // I64 -2
      0x00,
      0x00,
      0xc0,
      0x3f, // F32 1.5 = 0x3fc00000
      0x00,
      0x3c,
      0x00,
      0xc0, // F16 1.0, -2.0
      1,
      2,
      3,
    ];
    expect([...out]).toEqual(expected);
  });

  it("sorts names by code point (UTF-8 byte order), not by UTF-16 code unit", () => {
    const t = (): SafeTensor => ({ dtype: "U8", shape: [0], data: new Uint8Array(0) });
    // U+FF5E < U+1F600 by code point, but "\uD83D" < "\uFF5E" by UTF-16 unit.
    const out = serializeSafetensors({ "\u{1F600}": t(), "\uFF5E": t(), B: t(), a: t() });
    const text = new TextDecoder().decode(out.subarray(8));
    const order = ["B", "a", "\uFF5E", "\u{1F600}"].map((k) => text.indexOf(`"${k}"`));
    expect(order.every((pos, i) => pos > 0 && (i === 0 || pos > order[i - 1]))).toBe(true);
  });

  const bad: Array<[string, Record<string, SafeTensor>, Record<string, string> | undefined, string, RegExp]> = [
    [
      "data length != product(shape)",
      { w: { dtype: "F32", shape: [2, 2], data: new Float32Array(3) } },
      undefined,
      "SHAPE_MISMATCH",
      /tensor "w": shape \[2, 2\] holds 4 elements but data has 3/,
    ],
    [
      "a typed array of the wrong kind",
      { w: { dtype: "F16", shape: [1], data: new Float32Array(1) } },
      undefined,
      "DATA_TYPE_MISMATCH",
      /F16 data must be a Uint16Array; got Float32Array/,
    ],
    [
      "I64 held as numbers",
      { w: { dtype: "I64", shape: [1], data: new Float64Array(1) } },
      undefined,
      "DATA_TYPE_MISMATCH",
      /I64 data must be a BigInt64Array/,
    ],
    [
      "an unknown dtype",
      { w: { dtype: "F8_E4M3" as SafetensorsDtype, shape: [1], data: new Uint8Array(1) } },
      undefined,
      "UNKNOWN_DTYPE",
      /unknown dtype "F8_E4M3".*expected one of F64, F32/,
    ],
    [
      "a negative dim",
      { w: { dtype: "U8", shape: [-1], data: new Uint8Array(0) } },
      undefined,
      "INVALID_SHAPE",
      /non-negative integers; got \[-1\]/,
    ],
    [
      "the reserved name",
      { __metadata__: { dtype: "U8", shape: [0], data: new Uint8Array(0) } },
      undefined,
      "INVALID_TENSOR_NAME",
      /reserved/,
    ],
    [
      "a lone surrogate in a name",
      { "w\uD800": { dtype: "U8", shape: [0], data: new Uint8Array(0) } },
      undefined,
      "INVALID_TENSOR_NAME",
      /lone UTF-16 surrogate/,
    ],
    [
      "a BOOL byte other than 0/1",
      { m: { dtype: "BOOL", shape: [2], data: new Uint8Array([1, 2]) } },
      undefined,
      "INVALID_BOOL",
      /holds 2 at element 1/,
    ],
    [
      "a non-string metadata value",
      {},
      { epoch: 3 as unknown as string },
      "INVALID_METADATA",
      /value for "epoch" must be a string; got 3 \(a number\)/,
    ],
  ];
  it.each(bad)("rejects %s", (_title, tensors, metadata, code, message) => {
    expectError(() => serializeSafetensors(tensors, metadata), code, message);
  });
});

describe("parseSafetensors", () => {
  it("reads the crate's test_deserialization bytes, a scalar, a zero-sized tensor and padded headers", () => {
    const i32 = parseSafetensors(file('{"test":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}}', zeros(16)));
    expect(i32).toEqual({ tensors: { test: { dtype: "I32", shape: [2, 2], data: new Int32Array(4) } }, metadata: {} });
    const scalar = parseSafetensors(file('{"test":{"dtype":"I32","shape":[],"data_offsets":[0,4]}}', [7, 1, 0, 0]));
    expect(scalar.tensors.test).toEqual({ dtype: "I32", shape: [], data: new Int32Array([263]) });
    const empty = parseSafetensors(file('{"test":{"dtype":"I32","shape":[2,0],"data_offsets":[0, 0]}}'));
    expect(empty.tensors.test).toEqual({ dtype: "I32", shape: [2, 0], data: new Int32Array(0) });
    // The crate's test_whitespace_padded_header: trailing JSON whitespace is padding.
    expect(parseSafetensors(file("{}\r \t\n"))).toEqual({ tensors: {}, metadata: {} });
  });

  it("reads a hand-built file with metadata, out-of-order entries and unaligned offsets", () => {
    const header =
      '{"b":{"dtype":"F64","shape":[1],"data_offsets":[1,9]},"__metadata__":{"format":"pt"},"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}';
    const parsed = parseSafetensors(file(header, [0xaa, 0, 0, 0, 0, 0, 0, 0xf0, 0x3f])); // 1.0 = 0x3ff0000000000000
    expect(parsed.metadata).toEqual({ format: "pt" });
    expect(parsed.tensors.a.data).toEqual(new Uint8Array([0xaa]));
    expect(parsed.tensors.b.data).toEqual(new Float64Array([1]));
  });

  it("copies tensor data out of the input, even from an odd offset in a larger buffer", () => {
    const bytes = file('{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}', [0, 0, 0x80, 0x3f, 0, 0, 0, 0x40]);
    const host = new Uint8Array(bytes.length + 3);
    host.set(bytes, 3);
    const view = host.subarray(3);
    const { tensors } = parseSafetensors(view);
    host.fill(0xff);
    expect(tensors.w.data).toEqual(new Float32Array([1, 2]));
    expect(tensors.w.data.buffer).not.toBe(host.buffer);
  });

  it('keeps a tensor named "__proto__" as an own entry', () => {
    const { tensors } = parseSafetensors(file('{"__proto__":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', [5]));
    expect(Object.keys(tensors)).toEqual(["__proto__"]);
    expect(Object.getPrototypeOf(tensors)).toBe(Object.prototype);
    expect(Object.getOwnPropertyDescriptor(tensors, "__proto__")?.value.data).toEqual(new Uint8Array([5]));
  });

  it("reads the torch-made fixture: every torch dtype, scalar, empty tensor, unaligned offsets", () => {
    const { tensors, metadata } = parseSafetensors(readFileSync(join(FIXTURES, "torch_dtypes.safetensors")));
    expect(metadata).toEqual({ format: "pt", source: "torch 1.13.0a0" });
    const sidecar = JSON.parse(readFileSync(join(FIXTURES, "torch_dtypes.json"), "utf8")) as Record<
      string,
      { dtype: string; shape: number[]; values: string[] }
    >;
    for (const [name, want] of Object.entries(sidecar)) {
      const t = tensors[name];
      expect([name, t.dtype, t.shape]).toEqual([name, want.dtype, want.shape]);
      const got = Array.from(t.data as ArrayLike<number | bigint>, (v) => (want.dtype === "F64" ? (v as number) : String(v)));
      expect(got).toEqual(want.dtype === "F64" ? want.values.map(Number) : want.values);
    }
  });

  // Each malformed file names its problem. Several are the crate's own negative tests.
  const entry = (dtype: string, shape: string, offsets: string) => `{"dtype":"${dtype}","shape":${shape},"data_offsets":${offsets}}`;
  const one = (e: string, data: number[] = zeros(16)) => file(`{"w":${e}}`, data);
  const malformed: Array<[string, Uint8Array, string, RegExp]> = [
    ["an empty file", new Uint8Array(0), "HEADER_TOO_SMALL", /file is 0 bytes; a safetensors file starts with an 8-byte header length/],
    ["a 5-byte file", new Uint8Array(5), "HEADER_TOO_SMALL", /file is 5 bytes/],
    [
      "a huge header length (crate test_header_too_large)",
      Uint8Array.from([60, 0, 0, 0, 0, 0xff, 0xff, 0xff, ...enc.encode("{}")]),
      "HEADER_TOO_LARGE",
      /header length is 18446742974197923900 bytes; at most 100000000 are allowed/,
    ],
    ["a header length just over 100 MB", file("{}", [], 100_000_001), "HEADER_TOO_LARGE", /100000001 bytes; at most 100000000/],
    [
      "a header longer than the file (crate test_invalid_header_length)",
      file("", [], 60),
      "INVALID_HEADER_LENGTH",
      /header length is 60 bytes but only 0 bytes follow/,
    ],
    [
      "a header that is not UTF-8",
      Uint8Array.from([1, 0, 0, 0, 0, 0, 0, 0, 0xff]),
      "INVALID_UTF8",
      /header \(1 bytes\) is not valid UTF-8/,
    ],
    ["an empty header", file(""), "HEADER_NOT_OBJECT", /starting with "\{" \(0x7b\); got an empty header/],
    ["a JSON array header", file("[]"), "HEADER_NOT_OBJECT", /got first byte 0x5b \("\["\)/],
    ["leading whitespace (the spec says the header MUST begin with '{')", file(" {}"), "HEADER_NOT_OBJECT", /got first byte 0x20/],
    ["a byte-order mark", file("\uFEFF{}"), "HEADER_NOT_OBJECT", /got first byte 0xef/],
    ["truncated JSON (crate test_invalid_header_not_json)", file("{"), "INVALID_JSON", /header is not valid JSON/],
    [
      "a duplicated tensor name",
      file(`{"w":${entry("U8", "[1]", "[0,1]")},"w":${entry("U8", "[1]", "[1,2]")}}`, [1, 2]),
      "DUPLICATE_TENSOR",
      /header names tensor "w" more than once/,
    ],
    [
      "a duplicated tensor name spelled with a JSON escape",
      file(`{"ab":${entry("U8", "[0]", "[0,0]")},"\\u0061b":${entry("U8", "[0]", "[0,0]")}}`),
      "DUPLICATE_TENSOR",
      /tensor "ab" more than once/,
    ],
    [
      "a duplicated field in an entry",
      file(`{"w":{"dtype":"U8","dtype":"I8","shape":[1],"data_offsets":[0,1]}}`, [1]),
      "DUPLICATE_KEY",
      /key "dtype" appears more than once in header entry "w"/,
    ],
    [
      "an entry that is not an object",
      file('{"w":[1,2]}'),
      "INVALID_ENTRY",
      /tensor "w": entry must be an object .* got \[1,2\] \(an array\)/,
    ],
    [
      "an entry without data_offsets",
      file('{"w":{"dtype":"U8","shape":[0]}}'),
      "MISSING_FIELD",
      /tensor "w": entry has no "data_offsets" field/,
    ],
    [
      "a dtype that is not a string",
      one(entry("X", "[1]", "[0,1]").replace('"X"', "5"), [0]),
      "UNKNOWN_DTYPE",
      /tensor "w": unknown dtype 5 \(a number\); expected one of F64, F32, F16, BF16, I64, I32, I16, I8, U64, U32, U16, U8, BOOL/,
    ],
    [
      "an unknown dtype",
      one(entry("F17", "[1]", "[0,4]"), zeros(4)),
      "UNKNOWN_DTYPE",
      /unknown dtype "F17" \(a string\); expected one of F64/,
    ],
    [
      "a crate dtype lora-lab does not hold",
      one(entry("F8_E4M3", "[1]", "[0,1]"), [0]),
      "UNSUPPORTED_DTYPE",
      /dtype "F8_E4M3" is valid safetensors but not supported by lora-lab; supported: F64/,
    ],
    [
      "a negative dim",
      one(entry("U8", "[2,-1]", "[0,0]"), []),
      "INVALID_SHAPE",
      /tensor "w": shape\[1\] is -1 \(a number\); dimensions must be non-negative integers/,
    ],
    ["a fractional dim", one(entry("U8", "[1.5]", "[0,1]"), [0]), "INVALID_SHAPE", /shape\[0\] is 1.5/],
    [
      "a shape that is not an array",
      one(entry("U8", '"4"', "[0,4]"), zeros(4)),
      "INVALID_SHAPE",
      /shape must be an array of non-negative integers; got "4" \(a string\)/,
    ],
    [
      "a shape whose size overflows (crate test_validation_overflow)",
      one(entry("I32", "[2,18446744073709551614]", "[0,16]")),
      "VALIDATION_OVERFLOW",
      /shape \[2,18446744073709552000\] of I32 overflows/,
    ],
    [
      "one data offset",
      one(entry("U8", "[0]", "[0]"), []),
      "INVALID_OFFSETS",
      /data_offsets must be \[begin, end\], two non-negative integers; got \[0\]/,
    ],
    ["a negative data offset", one(entry("U8", "[0]", "[-1,-1]"), []), "INVALID_OFFSETS", /got \[-1,-1\]/],
    ["begin after end", one(entry("U8", "[0]", "[8,4]"), zeros(8)), "INVALID_OFFSETS", /data_offsets \[8, 4\] begin after they end/],
    [
      "a byte size that disagrees with the shape (crate test_invalid_info)",
      one(entry("I32", "[2,2]", "[0,4]"), zeros(4)),
      "SHAPE_MISMATCH",
      /tensor "w": data_offsets \[0, 4\] span 4 bytes but I32 shape \[2, 2\] needs 16/,
    ],
    [
      "an end beyond the buffer (crate: missing 2 bytes)",
      one(entry("I32", "[2,2]", "[0,16]"), zeros(14)),
      "OFFSET_OUT_OF_BOUNDS",
      /tensor "w": data_offsets \[0, 16\] end beyond the 14-byte data buffer/,
    ],
    [
      "overlapping tensors",
      file(`{"a":${entry("F32", "[2]", "[0,8]")},"b":${entry("F32", "[2]", "[4,12]")}}`, zeros(12)),
      "OVERLAP",
      /tensor "b" \(bytes 4..12\) overlaps tensor "a" \(bytes 0..8\)/,
    ],
    [
      "ten tensors on the same bytes (crate test_json_attack)",
      file(`{${Array.from({ length: 10 }, (_, i) => `"weight_${i}":${entry("F32", "[2,2]", "[0,16]")}`).join(",")}}`, zeros(16)),
      "OVERLAP",
      /overlaps tensor "weight_/,
    ],
    [
      "a gap between tensors",
      file(`{"a":${entry("F32", "[1]", "[0,4]")},"b":${entry("F32", "[1]", "[8,12]")}}`, zeros(12)),
      "GAP",
      /bytes 4..8 after tensor "a" belong to no tensor; tensor "b" should begin at 4/,
    ],
    [
      "a gap at the start",
      one(entry("F32", "[1]", "[4,8]"), zeros(8)),
      "GAP",
      /bytes 0..4 at the start of the data buffer belong to no tensor/,
    ],
    [
      "trailing bytes (crate test_metadata_incomplete_buffer)",
      file(`{"test":${entry("I32", "[2,2]", "[0,16]")}}`, [...zeros(16), ...enc.encode("extra_bogus_data_for_polyglot_file")]),
      "INCOMPLETE_BUFFER",
      /tensors cover 16 bytes of the 50-byte data buffer; the last 34 bytes belong to no tensor/,
    ],
    [
      "a non-string metadata value",
      file('{"__metadata__":{"format":"pt","step":3}}'),
      "INVALID_METADATA",
      /"__metadata__" value for "step" must be a string; got 3 \(a number\)/,
    ],
    [
      "metadata that is an array",
      file('{"__metadata__":["pt"]}'),
      "INVALID_METADATA",
      /"__metadata__" must be an object of string values; got \["pt"\] \(an array\)/,
    ],
    [
      "a BOOL byte other than 0/1",
      one(entry("BOOL", "[3]", "[0,3]"), [0, 1, 7]),
      "INVALID_BOOL",
      /BOOL tensor "w" holds byte 7 at element 2; expected 0 or 1/,
    ],
  ];
  it.each(malformed)("rejects %s", (_title, bytes, code, message) => {
    expectError(() => parseSafetensors(bytes), code, message);
  });

  it("names the source and the tensor on the error", () => {
    const err = catchError(() => parseSafetensors(one(entry("I32", "[2,2]", "[0,4]"), zeros(4)), { source: "m.safetensors" }));
    expect(err.message).toMatch(/^m\.safetensors: tensor "w": /);
    expect([err.code, err.tensor, err.source, err.name]).toEqual(["SHAPE_MISMATCH", "w", "m.safetensors", "SafetensorsError"]);
  });
});

describe("round trip", () => {
  // One tensor per dtype, with extreme values of each; plus empty and scalar shapes.
  const cases: Array<[SafetensorsDtype, number[], SafeTensor["data"]]> = [
    ["F64", [3], new Float64Array([Math.PI, -0, Number.MIN_VALUE])],
    ["F32", [2, 2], new Float32Array([1.5, -Infinity, NaN, 3.4028234663852886e38])],
    ["F16", [3], new Uint16Array([0x3c00, 0x7bff, 0x0001])],
    ["BF16", [3], new Uint16Array([0x3f80, 0x7f7f, 0xffc1])],
    ["I64", [2], new BigInt64Array([-(2n ** 63n), 2n ** 63n - 1n])],
    ["I32", [2], new Int32Array([-(2 ** 31), 2 ** 31 - 1])],
    ["I16", [2], new Int16Array([-32768, 32767])],
    ["I8", [2], new Int8Array([-128, 127])],
    ["U64", [2], new BigUint64Array([0n, 2n ** 64n - 1n])],
    ["U32", [1], new Uint32Array([2 ** 32 - 1])],
    ["U16", [1], new Uint16Array([65535])],
    ["U8", [1], new Uint8Array([255])],
    ["BOOL", [2, 1], new Uint8Array([1, 0])],
    ["F32", [], new Float32Array([42])],
    ["I64", [], new BigInt64Array([-7n])],
    ["F16", [0], new Uint16Array(0)],
    ["U64", [4, 0, 2], new BigUint64Array(0)],
  ];

  it.each(cases)("keeps %s %j exactly, bit for bit", (dtype, shape, data) => {
    const back = parseSafetensors(serializeSafetensors({ t: { dtype, shape, data } })).tensors.t;
    expect(back.dtype).toBe(dtype);
    expect(back.shape).toEqual(shape);
    expect(back.data.constructor).toBe(data.constructor);
    expect(new Uint8Array(back.data.buffer, back.data.byteOffset, back.data.byteLength)).toEqual(new Uint8Array(data.buffer));
    expect(back.data.byteLength).toBe(data.length * DTYPE_BYTES[dtype]);
  });

  it("keeps every dtype together in one file with metadata", () => {
    const all = Object.fromEntries(cases.map(([dtype, shape, data], i) => [`t${i}.${dtype}`, { dtype, shape, data }]));
    const back = parseSafetensors(serializeSafetensors(all, { format: "pt", note: 'quote " and ünïcode' }));
    expect(back.metadata).toEqual({ format: "pt", note: 'quote " and ünïcode' });
    expect(Object.keys(back.tensors).sort()).toEqual(Object.keys(all).sort());
    for (const [name, t] of Object.entries(all)) expect(back.tensors[name]).toEqual(t);
  });

  it("serializes the torch fixture's tensors back to a file that parses to the same tensors", () => {
    const original = parseSafetensors(readFileSync(join(FIXTURES, "torch_dtypes.safetensors")));
    const again = parseSafetensors(serializeSafetensors(original.tensors, original.metadata));
    expect(again).toEqual(original);
  });
});

describe("readSafetensors / writeSafetensors", () => {
  it("writes atomically and reads back", async () => {
    const path = join(tmp, "nested", "model.safetensors");
    const tensors = { w: { dtype: "BF16" as const, shape: [2], data: new Uint16Array([0x3f80, 0x4000]) } };
    await writeSafetensors(path, tensors, { format: "pt" });
    expect(await readSafetensors(path)).toEqual({ tensors, metadata: { format: "pt" } });
    expect(toFloat32((await readSafetensors(path)).tensors.w)).toEqual(new Float32Array([1, 2]));
  });

  it("names the file in parse errors", async () => {
    const path = join(tmp, "broken.safetensors");
    writeFileSync(path, file("{", []));
    await expect(readSafetensors(path)).rejects.toThrow(`${path}: header is not valid JSON`);
  });

  it("leaves the old file untouched when the tensors are invalid", async () => {
    const path = join(tmp, "keep.safetensors");
    await writeSafetensors(path, { a: { dtype: "U8", shape: [1], data: new Uint8Array([9]) } });
    const before = readFileSync(path);
    await expect(writeSafetensors(path, { a: { dtype: "U8", shape: [2], data: new Uint8Array([9]) } })).rejects.toThrow(SafetensorsError);
    expect(readFileSync(path)).toEqual(before);
  });
});

function catchError(fn: () => unknown): SafetensorsError {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(SafetensorsError);
    return err as SafetensorsError;
  }
  throw new Error("expected a SafetensorsError, nothing was thrown");
}

function expectError(fn: () => unknown, code: string, message: RegExp): void {
  const err = catchError(fn);
  expect(err.code).toBe(code);
  expect(err.message).toMatch(message);
}
