import { describe, expect, it } from "vitest";
import { decode, DELIMITER, encode, newHeader, Signer, toBuffers, WireError } from "../../kernel/wire.js";

// RFC 4231 test case 2: HMAC-SHA256(key "Jefe", "what do ya want for nothing?").
const RFC4231_2 = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";

function frames(signer: Signer, content: object, buffers: Buffer[] = []): Buffer[] {
  return encode(signer, {
    identities: [Buffer.from("peer")],
    header: newHeader("comm_msg", "s"),
    parent: {},
    metadata: {},
    content,
    buffers,
  });
}

describe("Signer", () => {
  it("sign() over several frames equals HMAC-SHA256 of their concatenation (RFC 4231 case 2)", () => {
    const s = new Signer("Jefe");
    expect(s.sign([Buffer.from("what do ya"), Buffer.from(" want "), Buffer.from("for "), Buffer.from("nothing?")])).toBe(RFC4231_2);
  });

  it("an empty key disables signing, as jupyter_client does with key ''", () => {
    expect(new Signer("").sign([Buffer.from("x")])).toBe("");
    expect(new Signer("").verify("", [Buffer.from("x")])).toBe(true);
  });

  it("rejects a signature scheme that is not hmac-<digest>", () => {
    expect(() => new Signer("k", "rsa-sha256")).toThrow(/unsupported signature_scheme "rsa-sha256"; expected "hmac-<digest>"/);
  });
});

describe("decode", () => {
  const signer = new Signer("secret");

  it("round-trips identities, the four JSON parts and raw buffers", () => {
    const msg = decode(signer, frames(signer, { comm_id: "c", data: { x: [1, 2] } }, [Buffer.from([1, 2, 3])]));
    expect(msg.identities.map(String)).toEqual(["peer"]);
    expect(msg.content).toEqual({ comm_id: "c", data: { x: [1, 2] } });
    expect(msg.buffers.map((b) => [...b])).toEqual([[1, 2, 3]]);
  });

  it("signs the four JSON frames only: buffers are not covered, as jupyter_client signs", () => {
    const f = frames(signer, { a: 1 }, [Buffer.from("payload")]);
    f[f.length - 1] = Buffer.from("changed");
    expect(decode(signer, f).buffers.map(String)).toEqual(["changed"]);
  });

  it("throws WireError for a changed content frame, a wrong key, no signature, no delimiter, too few frames, bad JSON", () => {
    const good = frames(signer, { a: 1 });
    const at = good.findIndex((b) => b.equals(DELIMITER));
    const tampered = [...good];
    tampered[at + 5] = Buffer.from('{"a":2}');
    expect(() => decode(signer, tampered)).toThrow(/invalid HMAC signature/);
    expect(() => decode(new Signer("other"), good)).toThrow(/invalid HMAC signature/);
    const unsigned = [...good];
    unsigned[at + 1] = Buffer.alloc(0);
    expect(() => decode(signer, unsigned)).toThrow(/unsigned message/);
    expect(() =>
      decode(
        signer,
        good.filter((b) => !b.equals(DELIMITER)),
      ),
    ).toThrow(/no <IDS\|MSG> delimiter/);
    expect(() => decode(signer, good.slice(0, at + 3))).toThrow(/expected a signature and 4 JSON frames/);
    const parts = [Buffer.from("{nope"), Buffer.from("{}"), Buffer.from("{}"), Buffer.from("{}")];
    expect(() => decode(signer, [DELIMITER, Buffer.from(signer.sign(parts)), ...parts])).toThrow(WireError);
  });
});

describe("toBuffers", () => {
  it("keeps a view's offset and length without copying", () => {
    const base = new Uint8Array([0, 1, 2, 3, 4, 5]);
    const [b] = toBuffers([new DataView(base.buffer, 2, 3)]);
    expect([...b]).toEqual([2, 3, 4]);
    base[3] = 9;
    expect(b[1]).toBe(9);
  });
});
