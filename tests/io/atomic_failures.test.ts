/**
 * Injected failures in the three writers that replace model files (trainer checkpoints,
 * savePretrained, PEFT adapter folders): a write that dies half way (ENOSPC after some bytes), a
 * rename that fails, and a truncated file left behind by a crash. Whatever fails, a whole
 * checkpoint stays loadable, and a torn file is refused with an error naming it.
 */
import * as tf from "@tensorflow/tfjs";
import { mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { readSafetensors } from "../../src/io/index.js";
import { fromPretrained, gpt2, GPT2Config, type GPT2LMHeadModel } from "../../src/models/index.js";
import { getPeftModel, PeftModel } from "../../src/peft/index.js";
import { readTrainingCheckpoint, saveTrainingCheckpoint } from "../../src/train/index.js";

/** Which call fails next: the write of a file whose target name matches, or the rename onto one. */
const inject: { write?: RegExp; rename?: RegExp } = {};

vi.mock("node:fs/promises", async (importOriginal) => {
  const real = await importOriginal<typeof import("node:fs/promises")>();
  /** Temp files are ".<target>.<pid>.<hex>.tmp": the target's name is what a test names. */
  const targetOf = (p: unknown) => basename(String(p)).replace(/^\.(.+)\.\d+\.[0-9a-f]+\.(tmp|old)$/, "$1");
  return {
    ...real,
    open: async (...args: Parameters<typeof real.open>) => {
      const handle = await real.open(...args);
      const pattern = inject.write;
      if (!pattern || !pattern.test(targetOf(args[0]))) return handle;
      inject.write = undefined;
      // Half the bytes reach the disk, then the disk is full: a torn temp file is left to clean up.
      handle.writeFile = async (data: string | Uint8Array) => {
        const bytes = typeof data === "string" ? new TextEncoder().encode(data) : data;
        await handle.write(bytes.subarray(0, bytes.length >> 1));
        throw Object.assign(new Error("ENOSPC: no space left on device, write"), { code: "ENOSPC" });
      };
      return handle;
    },
    rename: async (from: string, to: string) => {
      const pattern = inject.rename;
      if (pattern && pattern.test(basename(to))) {
        inject.rename = undefined;
        throw Object.assign(new Error(`EIO: i/o error, rename '${from}' -> '${to}'`), { code: "EIO" });
      }
      return real.rename(from, to);
    },
  };
});

const root = mkdtempSync(join(tmpdir(), "lora-lab-atomic-fail-"));
let n = 0;
const fresh = () => join(root, `case-${n++}`);
/** Every name in a folder tree, temp files included (they start with "."). */
const listing = (dir: string): string[] => readdirSync(dir, { recursive: true }).map(String).sort();

beforeAll(async () => {
  await ready({ backend: "wasm" });
  vi.spyOn(console, "warn").mockImplementation(() => {});
});
afterEach(() => {
  inject.write = undefined;
  inject.rename = undefined;
});
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe("trainer checkpoints under injected failures", () => {
  const ckpt = (value: number) => ({
    step: 2,
    parameters: { w: tf.fill([3, 2], value) },
    optimizerState: { "w.exp_avg": tf.fill([3, 2], value / 10), "w.exp_avg_sq": tf.fill([3, 2], value / 100) },
    trainerState: { max_steps: 4, log_history: [{ step: 2, loss: value }] },
  });
  const values = async (dir: string) => {
    const back = await readTrainingCheckpoint(dir);
    return {
      w: [...new Float32Array(back.parameters.w.data.slice().buffer)],
      loss: (back.trainerState.log_history as { loss: number }[])[0].loss,
    };
  };
  const saveOver = async (out: string, fail: () => void) => {
    const first = ckpt(1);
    await saveTrainingCheckpoint(out, first);
    tf.dispose([...Object.values(first.parameters), ...Object.values(first.optimizerState)]);
    fail();
    const second = ckpt(7);
    const err = await saveTrainingCheckpoint(out, second).then(
      () => undefined,
      (e: Error) => e,
    );
    tf.dispose([...Object.values(second.parameters), ...Object.values(second.optimizerState)]);
    return err;
  };

  it("keeps the previous checkpoint whole when the write of a file dies half way", async () => {
    const out = fresh();
    const err = await saveOver(out, () => (inject.write = /^optimizer\.safetensors$/));
    expect(err?.message).toContain(`cannot write the checkpoint ${join(out, "checkpoint-2")}`);
    expect(err?.message).toContain("ENOSPC");
    expect(await values(join(out, "checkpoint-2"))).toEqual({ w: [1, 1, 1, 1, 1, 1], loss: 1 });
    expect(listing(out)).toEqual([
      "checkpoint-2",
      "checkpoint-2/model.safetensors",
      "checkpoint-2/optimizer.safetensors",
      "checkpoint-2/trainer_state.json",
    ]);
  });

  it("puts the previous checkpoint back when the rename of the new one fails", async () => {
    const out = fresh();
    const err = await saveOver(out, () => (inject.rename = /^checkpoint-2$/));
    expect(err?.message).toContain("EIO");
    expect(await values(join(out, "checkpoint-2"))).toEqual({ w: [1, 1, 1, 1, 1, 1], loss: 1 });
    expect(listing(out)).toEqual([
      "checkpoint-2",
      "checkpoint-2/model.safetensors",
      "checkpoint-2/optimizer.safetensors",
      "checkpoint-2/trainer_state.json",
    ]);
  });

  it("replaces the checkpoint when nothing fails, leaving no temp folder", async () => {
    const out = fresh();
    expect(await saveOver(out, () => undefined)).toBeUndefined();
    expect(await values(join(out, "checkpoint-2"))).toEqual({ w: [7, 7, 7, 7, 7, 7], loss: 7 });
    expect(readdirSync(out)).toEqual(["checkpoint-2"]);
  });

  it("points at the previous checkpoint that a crash between the two renames left aside", async () => {
    const out = fresh();
    const c = ckpt(5);
    const dir = await saveTrainingCheckpoint(out, c);
    tf.dispose([...Object.values(c.parameters), ...Object.values(c.optimizerState)]);
    const aside = join(out, ".checkpoint-2.4242.0123456789ab.old"); // as writeDirectoryAtomic names it
    renameSync(dir, aside);
    await expect(readTrainingCheckpoint(dir)).rejects.toThrow(
      `train: no checkpoint folder ${dir}; a save of it was interrupted and left the previous one whole at ${aside}: rename that back to ${dir}`,
    );
    renameSync(aside, dir);
    expect(await values(dir)).toEqual({ w: [5, 5, 5, 5, 5, 5], loss: 5 });
    await expect(readTrainingCheckpoint(join(out, "checkpoint-9"))).rejects.toThrow(/^train: no checkpoint folder .*checkpoint-9$/);
  });

  it("refuses a truncated checkpoint file, naming it", async () => {
    const out = fresh();
    const c = ckpt(3);
    const dir = await saveTrainingCheckpoint(out, c);
    tf.dispose([...Object.values(c.parameters), ...Object.values(c.optimizerState)]);
    const file = join(dir, "optimizer.safetensors");
    truncateSync(file, readFileSync(file).length - 5);
    await expect(readTrainingCheckpoint(dir)).rejects.toThrow(`${file}: tensor`);
    writeFileSync(join(dir, "trainer_state.json"), '{"global_step": 2, "log_hist');
    await expect(readTrainingCheckpoint(dir)).rejects.toThrow(`cannot read the checkpoint's ${join(dir, "trainer_state.json")}`);
  });
});

describe("savePretrained under injected failures", () => {
  const small = () => new GPT2Config({ vocabSize: 40, nPositions: 12, nEmbd: 16, nLayer: 2, nHead: 4 });
  const ids = [[1, 5, 9, 33, 2]];
  const logits = async (dir: string) => {
    const m = await fromPretrained<GPT2LMHeadModel>(dir);
    const out = m.forward(ids);
    const data = out.dataSync().slice();
    out.dispose();
    m.dispose();
    return data;
  };

  it("leaves the old model loadable, bit for bit, when config.json or a weight file fails to write", async () => {
    for (const target of [/^config\.json$/, /^model\.safetensors$/]) {
      const dir = fresh();
      seed(1);
      const old = gpt2(small()).eval();
      await old.savePretrained(dir);
      const want = await logits(dir);
      seed(2);
      const next = gpt2(small());
      inject.write = target;
      await expect(next.savePretrained(dir)).rejects.toThrow(/cannot write .*(config\.json|model\.safetensors) atomically: ENOSPC/);
      expect(await logits(dir)).toEqual(want);
      expect(readdirSync(dir).sort()).toEqual(["config.json", "generation_config.json", "model.safetensors"]); // the torn temp file is gone
      old.dispose();
      next.dispose();
    }
  });

  it("leaves whole files when a rename fails between the weights and config.json", async () => {
    const dir = fresh();
    seed(1);
    const old = gpt2(small()).eval();
    await old.savePretrained(dir);
    seed(2);
    const next = gpt2(small()).eval();
    inject.rename = /^config\.json$/;
    await expect(next.savePretrained(dir)).rejects.toThrow(`cannot write ${join(dir, "config.json")} atomically: EIO`);
    // The weights went in, config.json did not: both files whole, and (same config) the new model loads.
    const out = next.forward(ids);
    expect(await logits(dir)).toEqual(out.dataSync());
    out.dispose();
    expect(readdirSync(dir).sort()).toEqual(["config.json", "generation_config.json", "model.safetensors"]);
    old.dispose();
    next.dispose();
  });

  it("refuses a truncated model.safetensors (as a crash mid-copy leaves it), naming the file", async () => {
    const dir = fresh();
    const model = gpt2(small());
    await model.savePretrained(dir);
    model.dispose();
    const file = join(dir, "model.safetensors");
    truncateSync(file, 1000);
    await expect(fromPretrained(dir)).rejects.toThrow(new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}: `));
    truncateSync(file, 4);
    await expect(readSafetensors(file)).rejects.toThrow(`${file}: file is 4 bytes`);
  });
});

describe("PEFT adapter folders under injected failures", () => {
  it("keeps the previous adapter whole when the save dies writing the config", async () => {
    const dir = fresh();
    seed(3);
    const model = getPeftModel(gpt2("tiny"), { r: 2, taskType: "CAUSAL_LM" });
    await model.savePretrained(dir);
    const before = readFileSync(join(dir, "adapter_model.safetensors"));
    for (const [name, p] of model.namedParameters()) {
      if (!name.includes("lora_B")) continue;
      const v = tf.onesLike(p.variable);
      p.assign(v);
      v.dispose();
    }
    inject.write = /^adapter_config\.json$/;
    await expect(model.savePretrained(dir)).rejects.toThrow(/adapter_config\.json atomically: ENOSPC/);
    expect(readFileSync(join(dir, "adapter_model.safetensors"))).toEqual(before);
    expect(readdirSync(dir).sort()).toEqual(["README.md", "adapter_config.json", "adapter_model.safetensors"]);
    const again = await PeftModel.fromPretrained(gpt2("tiny"), dir);
    const b = [...again.namedParameters()].find(([k]) => k.includes("lora_B"))!;
    expect(b[1].variable.dataSync().every((x) => x === 0)).toBe(true); // the old adapter's B, as PEFT initialises it
    again.dispose();
    model.dispose();
  });

  it("refuses a truncated adapter file, naming it", async () => {
    const dir = fresh();
    const model = getPeftModel(gpt2("tiny"), { r: 2, taskType: "CAUSAL_LM" });
    await model.savePretrained(dir);
    const file = join(dir, "adapter_model.safetensors");
    truncateSync(file, 300);
    await expect(PeftModel.fromPretrained(gpt2("tiny"), dir)).rejects.toThrow(`${file}: `);
    model.dispose();
  });
});
