/**
 * The Jupyter wire protocol (messaging spec 5.3): routing identities, `<IDS|MSG>`, the HMAC
 * signature, four JSON frames, then binary buffers. The signature covers the four JSON frames only,
 * as jupyter_client signs them; buffers are not signed.
 */
import { createHmac, randomUUID, timingSafeEqual } from "node:crypto";

export const DELIMITER = Buffer.from("<IDS|MSG>");
export const PROTOCOL_VERSION = "5.3";

export interface Header {
  msg_id: string;
  session: string;
  username: string;
  date: string;
  msg_type: string;
  version: string;
}

export interface Message {
  /** ZeroMQ routing prefix of the sender (copied onto replies). */
  identities: Buffer[];
  header: Header;
  /** The header of the message this one answers, or {} when none. */
  parent: Header | Record<string, never>;
  metadata: Record<string, unknown>;
  content: any;
  buffers: Buffer[];
}

/** Why a received message was dropped; the kernel logs it and keeps serving. */
export class WireError extends Error {
  override name = "WireError";
}

/** Signs and checks messages with the connection file's key and `signature_scheme` ("hmac-sha256"). */
export class Signer {
  private readonly algorithm: string;

  constructor(
    private readonly key: string,
    scheme = "hmac-sha256",
  ) {
    if (!scheme.startsWith("hmac-"))
      throw new Error(`unsupported signature_scheme "${scheme}"; expected "hmac-<digest>", e.g. "hmac-sha256"`);
    this.algorithm = scheme.slice("hmac-".length);
    // Fails now, not on the first message, when Node lacks the digest.
    createHmac(this.algorithm, "probe");
  }

  /** Hex digest over the four JSON frames; "" when the key is empty (signing disabled). */
  sign(frames: readonly (string | Buffer)[]): string {
    if (this.key === "") return "";
    const hmac = createHmac(this.algorithm, this.key);
    for (const f of frames) hmac.update(f);
    return hmac.digest("hex");
  }

  verify(signature: string, frames: readonly Buffer[]): boolean {
    if (this.key === "") return true;
    const want = Buffer.from(this.sign(frames), "utf8");
    const got = Buffer.from(signature, "utf8");
    return got.length === want.length && timingSafeEqual(got, want);
  }
}

function parseFrame(frame: Buffer, what: string): any {
  let value: unknown;
  try {
    value = JSON.parse(frame.toString("utf8"));
  } catch (err) {
    throw new WireError(`${what} frame is not JSON (${(err as Error).message})`);
  }
  if (value === null || typeof value !== "object" || Array.isArray(value))
    throw new WireError(`${what} frame must be a JSON object, got ${JSON.stringify(value)?.slice(0, 60)}`);
  return value;
}

/** Parses and authenticates raw frames; throws WireError for anything malformed or badly signed. */
export function decode(signer: Signer, frames: readonly Buffer[]): Message {
  const at = frames.findIndex((f) => f.equals(DELIMITER));
  if (at < 0) throw new WireError(`no <IDS|MSG> delimiter among ${frames.length} frames`);
  const rest = frames.slice(at + 1);
  if (rest.length < 5) throw new WireError(`expected a signature and 4 JSON frames after the delimiter, got ${rest.length} frames`);
  const [signature, ...body] = rest;
  const json = body.slice(0, 4);
  if (!signer.verify(signature.toString("utf8"), json)) {
    throw new WireError(
      signature.length === 0 ? "unsigned message (empty signature) but the connection has a key" : "invalid HMAC signature",
    );
  }
  const header = parseFrame(json[0], "header") as Header;
  if (typeof header.msg_type !== "string" || typeof header.msg_id !== "string") throw new WireError("header lacks msg_type or msg_id");
  return {
    identities: frames.slice(0, at),
    header,
    parent: parseFrame(json[1], "parent_header"),
    metadata: parseFrame(json[2], "metadata"),
    content: parseFrame(json[3], "content"),
    buffers: body.slice(4),
  };
}

/** Frames ready for a socket: identities, delimiter, signature, four JSON frames, raw buffers. */
export function encode(signer: Signer, msg: Message): Buffer[] {
  const json = [msg.header, msg.parent, msg.metadata, msg.content].map((v) => Buffer.from(JSON.stringify(v), "utf8"));
  return [...msg.identities, DELIMITER, Buffer.from(signer.sign(json), "utf8"), ...json, ...msg.buffers];
}

export function newHeader(msgType: string, session: string, username = "kernel"): Header {
  return {
    msg_id: randomUUID().replace(/-/g, ""),
    session,
    username,
    date: new Date().toISOString(),
    msg_type: msgType,
    version: PROTOCOL_VERSION,
  };
}

/** Binary payloads as Buffers without copying (views keep their offset and length). */
export function toBuffers(buffers: readonly (ArrayBuffer | ArrayBufferView)[] | undefined): Buffer[] {
  return (buffers ?? []).map((b) =>
    ArrayBuffer.isView(b) ? Buffer.from(b.buffer, b.byteOffset, b.byteLength) : Buffer.from(b as ArrayBuffer),
  );
}
