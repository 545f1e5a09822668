import { describe, expect, it } from "vitest";
import { decodeOutcome, parseOutcome, safetensorsInput, wireInput, type FuzzOutcome } from "./inputs.js";

// A short deterministic sample of bench/fuzz.ts's inputs (which runs 10,000 of each): every input
// is either still valid and parses consistently, or is rejected with the parser's own error type
// and a message; no other exception, no hang. The kernel drops a WireError with a log line and
// keeps serving (tests/kernel/comms.test.ts shows that on a live kernel).
const SAMPLE = 400;

function run(make: (i: number) => unknown, outcome: (x: never) => FuzzOutcome) {
  const crashes: string[] = [];
  const rejected = new Map<string, number>();
  let parsed = 0;
  for (let i = 0; i < SAMPLE; i++) {
    const o = outcome(make(i) as never);
    if (o.kind === "crashed") crashes.push(`input ${i}: ${o.error}`);
    else if (o.kind === "rejected") rejected.set(o.code, (rejected.get(o.code) ?? 0) + 1);
    else parsed++;
  }
  return { crashes, rejected, parsed };
}

describe("fuzzing the parsers of untrusted bytes (a 400-input sample of bench/fuzz.ts)", () => {
  it("parseSafetensors: every malformed file is rejected with a SafetensorsError naming its problem, or parses consistently", () => {
    const r = run((i) => safetensorsInput(0, i), parseOutcome);
    expect(r.crashes).toEqual([]);
    // The sample reaches many of the parser's checks, not one early exit.
    expect(r.rejected.size).toBeGreaterThanOrEqual(8);
    expect(r.parsed).toBeLessThan(SAMPLE / 2);
  });

  it("the kernel's wire decode: every malformed message is a WireError (logged and dropped), or a well-formed message", () => {
    const r = run((i) => wireInput(0, i), decodeOutcome);
    expect(r.crashes).toEqual([]);
    expect(r.rejected.size).toBeGreaterThanOrEqual(5);
  });
});
