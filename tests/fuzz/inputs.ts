/**
 * Deterministic malformed inputs for the two parsers that read untrusted bytes: safetensors files
 * (`parseSafetensors`) and Jupyter wire messages (`decode` in kernel/wire.ts). Each generator
 * mutates a valid input in one of several ways (truncation, byte flips, header JSON edits, frames
 * dropped, duplicated or re-signed garbage), seeded so a failing case can be replayed by index.
 * Used by tests/fuzz/fuzz.test.ts (a short sample) and bench/fuzz.ts (10,000 each).
 */
import { parseSafetensors, SafetensorsError, serializeSafetensors, type SafeTensor } from "../../src/io/index.js";
import { decode, DELIMITER, encode, Signer, WireError } from "../../kernel/wire.js";

/** mulberry32: a small seeded generator, so every case is reproducible from (seed, index). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const pick = <T>(r: () => number, xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
const int = (r: () => number, n: number) => Math.floor(r() * n);

/** What one input did: parsed (still valid), rejected with the parser's own error, or crashed. */
export type FuzzOutcome = { kind: "parsed" } | { kind: "rejected"; code: string } | { kind: "crashed"; error: string };

// ---- safetensors ----

function validFile(r: () => number): Uint8Array {
  const tensors: Record<string, SafeTensor> = {};
  const n = 1 + int(r, 3);
  for (let i = 0; i < n; i++) {
    const shape = Array.from({ length: int(r, 3) }, () => 1 + int(r, 4));
    const numel = shape.reduce((a, b) => a * b, 1);
    const dtype = pick(r, ["F32", "F16", "I64", "U8"] as const);
    const data =
      dtype === "F32"
        ? Float32Array.from({ length: numel }, () => r())
        : dtype === "F16"
          ? Uint16Array.from({ length: numel }, () => int(r, 65536))
          : dtype === "I64"
            ? BigInt64Array.from({ length: numel }, () => BigInt(int(r, 1000)))
            : Uint8Array.from({ length: numel }, () => int(r, 256));
    tensors[`layer.${i}.weight`] = { dtype, shape, data } as SafeTensor;
  }
  return serializeSafetensors(tensors, r() < 0.5 ? { format: "pt" } : undefined);
}

const HEADER_EDITS: Array<(h: Record<string, any>, r: () => number) => void> = [
  (h, r) => (first(h).dtype = pick(r, ["F8", "f32", "", 7, null, "BOOL", "F64"])),
  (h, r) => (first(h).shape = pick(r, [[-1], [1.5], "3", [2 ** 53], [1e9, 1e9], [], null, [0]])),
  (h, r) => (first(h).data_offsets = pick(r, [[0], [5, 2], [-4, 4], [0, 2 ** 60], "0,4", [0.5, 4], null, [0, 0]])),
  (h) => delete first(h).data_offsets,
  (h) => delete first(h).dtype,
  (h, r) => (h[pick(r, ["x", "__metadata__", ""])] = pick(r, [1, "s", [], { dtype: "F32" }, { a: 1 }])),
  (h) => {
    const keys = Object.keys(h).filter((k) => k !== "__metadata__");
    if (keys.length > 1) h[keys[1]].data_offsets = h[keys[0]].data_offsets; // overlap
  },
  (h, r) => (first(h).extra = pick(r, [1, "x", null])),
];

function first(h: Record<string, any>): Record<string, any> {
  const k = Object.keys(h).find((key) => key !== "__metadata__")!;
  return h[k];
}

function withHeader(bytes: Uint8Array, header: string, keepLength: boolean): Uint8Array {
  const n = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  const body = bytes.subarray(8 + n);
  const h = new TextEncoder().encode(header);
  const out = new Uint8Array(8 + h.length + body.length);
  new DataView(out.buffer).setBigUint64(0, BigInt(keepLength ? n : h.length), true);
  out.set(h, 8);
  out.set(body, 8 + h.length);
  return out;
}

/** The i-th malformed safetensors input of the sequence `seed`. */
export function safetensorsInput(seed: number, i: number): Uint8Array {
  const r = rng(seed * 1_000_003 + i);
  const bytes = validFile(r);
  const n = Number(new DataView(bytes.buffer).getBigUint64(0, true));
  const headerText = new TextDecoder().decode(bytes.subarray(8, 8 + n));
  switch (int(r, 8)) {
    case 0: // truncated anywhere
      return bytes.slice(0, int(r, bytes.length));
    case 1: {
      // a few random bytes flipped anywhere
      const out = bytes.slice();
      for (let k = 1 + int(r, 4); k > 0; k--) out[int(r, out.length)] ^= 1 + int(r, 255);
      return out;
    }
    case 2: {
      // the header length field set to something else
      const out = bytes.slice();
      new DataView(out.buffer).setBigUint64(0, pick(r, [0n, 1n, BigInt(n + 1), BigInt(n - 1), 2n ** 63n, BigInt(out.length)]), true);
      return out;
    }
    case 3: {
      // one structural edit of the header JSON, the length field kept consistent
      const h = JSON.parse(headerText);
      pick(r, HEADER_EDITS)(h, r);
      return withHeader(bytes, JSON.stringify(h), false);
    }
    case 4: // header text cut or padded inside the same length
      return withHeader(bytes, headerText.slice(0, int(r, headerText.length)) + " ".repeat(0), r() < 0.5);
    case 5: // not JSON, not UTF-8, or a JSON non-object
      return withHeader(bytes, pick(r, ["", "[]", "null", "42", '"x"', "{", '{"a":', "\uD800", "{}{}", '{"a":1,"a":2}']), false);
    case 6: {
      // extra or missing trailing bytes
      const out = new Uint8Array(bytes.length + 1 + int(r, 16));
      out.set(bytes);
      return r() < 0.5 ? out : bytes.slice(0, bytes.length - 1 - int(r, 4));
    }
    default: // random bytes of a random length
      return Uint8Array.from({ length: int(r, 64) }, () => int(r, 256));
  }
}

/** Parses one input; a successful parse must describe a consistent file. */
export function parseOutcome(bytes: Uint8Array): FuzzOutcome {
  try {
    const file = parseSafetensors(bytes);
    for (const [name, t] of Object.entries(file.tensors)) {
      const numel = t.shape.reduce((a, b) => a * b, 1);
      if (t.data.length !== numel)
        return { kind: "crashed", error: `parsed "${name}" with ${t.data.length} elements for shape [${t.shape}]` };
    }
    return { kind: "parsed" };
  } catch (err) {
    if (err instanceof SafetensorsError && err.message.length > 10) return { kind: "rejected", code: err.code };
    return { kind: "crashed", error: `${(err as Error)?.name}: ${(err as Error)?.message}` };
  }
}

// ---- kernel wire messages ----

export const FUZZ_KEY = "fuzz-key";
const signer = new Signer(FUZZ_KEY);

function validFrames(r: () => number): Buffer[] {
  const header = {
    msg_id: `m${int(r, 1e6)}`,
    session: "s",
    username: "u",
    date: "2026-12-04T00:00:00Z",
    msg_type: "execute_request",
    version: "5.3",
  };
  return encode(signer, {
    identities: [Buffer.from(`id${int(r, 100)}`)],
    header,
    parent: {},
    metadata: {},
    content: { code: "1 + 1", silent: false },
    buffers: r() < 0.3 ? [Buffer.from([1, 2, 3])] : [],
  });
}

/** Re-signs the four JSON frames after the delimiter, so a mutation inside them reaches the JSON checks. */
function resign(frames: Buffer[]): Buffer[] {
  const at = frames.findIndex((f) => f.equals(DELIMITER));
  if (at < 0 || frames.length < at + 6) return frames;
  const out = frames.slice();
  out[at + 1] = Buffer.from(signer.sign(out.slice(at + 2, at + 6)), "utf8");
  return out;
}

/** The i-th malformed message (its frames) of the sequence `seed`. */
export function wireInput(seed: number, i: number): Buffer[] {
  const r = rng(seed * 2_000_003 + i);
  const frames = validFrames(r);
  const at = frames.findIndex((f) => f.equals(DELIMITER));
  switch (int(r, 7)) {
    case 0: // frames dropped
      return frames.filter(() => r() < 0.6);
    case 1: // the delimiter corrupted or duplicated
      return r() < 0.5
        ? frames.map((f, k) => (k === at ? Buffer.from("<IDS|MSG") : f))
        : [...frames.slice(0, at + 1), DELIMITER, ...frames.slice(at + 1)];
    case 2: {
      // bytes flipped in one JSON frame, signature left stale
      const out = frames.map((f) => Buffer.from(f));
      const f = out[at + 2 + int(r, 4)];
      if (f.length) f[int(r, f.length)] ^= 1 + int(r, 255);
      return out;
    }
    case 3: {
      // one JSON frame replaced and re-signed: reaches the JSON and header checks
      const out = frames.slice();
      out[at + 2 + int(r, 4)] = Buffer.from(
        pick(r, ["", "[]", "null", "1", "{", '{"msg_type":1}', '"x"', "{}", "\u0000", '{"msg_id":"a"}']),
      );
      return resign(out);
    }
    case 4: // signature replaced
      return frames.map((f, k) =>
        k === at + 1 ? Buffer.from(pick(r, ["", "00", "x".repeat(64), frames[k].toString().toUpperCase()])) : f,
      );
    case 5: // random frames
      return Array.from({ length: int(r, 8) }, () => Buffer.from(Array.from({ length: int(r, 24) }, () => int(r, 256))));
    default: {
      // a valid message with garbage frames around it
      const junk = () => Buffer.from(Array.from({ length: int(r, 12) }, () => int(r, 256)));
      return r() < 0.5 ? [junk(), ...frames] : [...frames, junk()];
    }
  }
}

/** Decodes one message: a Message or a WireError (the kernel logs it and keeps serving); anything else crashed. */
export function decodeOutcome(frames: Buffer[]): FuzzOutcome {
  try {
    const msg = decode(signer, frames);
    if (typeof msg.header.msg_type !== "string") return { kind: "crashed", error: "decoded a header without msg_type" };
    return { kind: "parsed" };
  } catch (err) {
    if (err instanceof WireError && err.message.length > 10)
      return { kind: "rejected", code: err.message.split(" (")[0].replace(/\d+/g, "N").slice(0, 48) };
    return { kind: "crashed", error: `${(err as Error)?.name}: ${(err as Error)?.message}` };
  }
}
