/**
 * One process-wide seeded generator. `seed(n)` makes parameter initialisation, dropout masks and
 * sampling reproducible; every consumer draws from here (or asks it for a sub-seed for a tfjs op).
 */

// sfc32: small, fast, and good enough statistically for initialisation and shuffling.
function sfc32(a: number, b: number, c: number, d: number): () => number {
  return () => {
    a |= 0;
    b |= 0;
    c |= 0;
    d |= 0;
    const t = (((a + b) | 0) + d) | 0;
    d = (d + 1) | 0;
    a = b ^ (b >>> 9);
    b = (c + (c << 3)) | 0;
    c = (c << 21) | (c >>> 11);
    c = (c + t) | 0;
    return (t >>> 0) / 4294967296;
  };
}

// splitmix32 spreads a small integer seed over sfc32's 128 bits of state.
function splitmix32(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x9e3779b9) | 0;
    let z = s;
    z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
    z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
    return (z ^ (z >>> 16)) >>> 0;
  };
}

/** A seeded uniform generator in [0, 1). */
export function makeRng(seedValue: number): () => number {
  if (!Number.isFinite(seedValue)) throw new Error(`seed must be a finite number, got ${seedValue}`);
  const mix = splitmix32(Math.floor(seedValue));
  const rng = sfc32(mix(), mix(), mix(), mix());
  for (let i = 0; i < 12; i++) rng(); // discard the first outputs, as sfc32's author advises
  return rng;
}

let current = makeRng(Math.floor(Math.random() * 2 ** 31));

/** Seeds initialisation, dropout and sampling for the whole process. */
export function seed(n: number): void {
  if (!Number.isInteger(n)) throw new Error(`seed(n) expects an integer, got ${n}`);
  current = makeRng(n);
}

/** Uniform in [0, 1) from the global generator. */
export function random(): number {
  return current();
}

/** Seeds handed out while `recordSeeds` runs, or handed back while `replaySeeds` runs. */
let tape: { seeds: number[]; replay: boolean } | undefined;

/** An integer seed for a tfjs op (dropout, randomNormal) drawn from the global generator. */
export function nextSeed(): number {
  if (tape?.replay) {
    const s = tape.seeds.shift();
    if (s === undefined) throw new Error("replaySeeds: the replayed function asked for more random seeds than the recorded run");
    return s;
  }
  const s = Math.floor(current() * 2 ** 31);
  tape?.seeds.push(s);
  return s;
}

/**
 * Runs `fn`, appending every seed it draws from `nextSeed` to `seeds`, so that `replaySeeds` can
 * run it again with the same dropout masks (gradient checkpointing recomputes a block this way, as
 * torch.utils.checkpoint restores the RNG state).
 */
export function recordSeeds<T>(seeds: number[], fn: () => T): T {
  return withTape({ seeds, replay: false }, fn);
}

/** Runs `fn` with `nextSeed` handing back the recorded seeds in order; the global generator is untouched. */
export function replaySeeds<T>(seeds: readonly number[], fn: () => T): T {
  return withTape({ seeds: [...seeds], replay: true }, fn);
}

function withTape<T>(next: typeof tape, fn: () => T): T {
  const outer = tape;
  tape = next;
  try {
    return fn();
  } finally {
    tape = outer;
  }
}
