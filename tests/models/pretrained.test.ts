import * as tf from "@tensorflow/tfjs";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { readSafetensors } from "../../src/io/index.js";
import { GPT2Config, GPT2LMHeadModel, fromPretrained, gpt2 } from "../../src/models/index.js";

const GOLDEN = fileURLToPath(new URL("../fixtures/gpt2-golden", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "lora-lab-pretrained-"));
const small = () => new GPT2Config({ vocabSize: 40, nPositions: 12, nEmbd: 16, nLayer: 2, nHead: 4 });

beforeAll(async () => {
  await ready({ backend: "wasm" });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("savePretrained / fromPretrained", () => {
  it("round-trips to identical logits", async () => {
    seed(21);
    const model = gpt2(small()).eval();
    const dir = join(work, "roundtrip");
    await model.savePretrained(dir);
    const again = await fromPretrained<GPT2LMHeadModel>(dir);
    const ids = [[1, 5, 9, 33, 2, 0]];
    expect(again.forward(ids).dataSync()).toEqual(model.forward(ids).dataSync());
    expect(again.config).toEqual(model.config);
    expect(again.training).toBe(false);
    model.dispose();
    again.dispose();
  });

  it("writes the files transformers writes: HF keys, no tied lm_head, format pt", async () => {
    seed(22);
    const model = gpt2(small());
    const dir = join(work, "layout");
    await model.savePretrained(dir);
    const file = await readSafetensors(join(dir, "model.safetensors"));
    expect(file.metadata).toEqual({ format: "pt" });
    expect(Object.keys(file.tensors)).toContain("transformer.h.1.attn.c_attn.weight");
    expect(Object.keys(file.tensors)).not.toContain("lm_head.weight");
    expect(file.tensors["transformer.h.0.attn.c_attn.weight"].shape).toEqual([16, 48]); // Conv1D [in, out]
    const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
    expect(config).toMatchObject({ model_type: "gpt2", n_embd: 16, n_layer: 2, architectures: ["GPT2LMHeadModel"] });
    model.dispose();
  });

  it("stores half precision on request and loads it back within fp16 rounding", async () => {
    seed(23);
    const model = gpt2(small());
    const dir = join(work, "fp16");
    await model.savePretrained(dir, { dtype: "F16" });
    const file = await readSafetensors(join(dir, "model.safetensors"));
    expect(file.tensors["transformer.wte.weight"].dtype).toBe("F16");
    const again = await fromPretrained<GPT2LMHeadModel>(dir);
    const a = model.transformer.wte.weight.variable.dataSync();
    const b = again.transformer.wte.weight.variable.dataSync();
    a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThanOrEqual(Math.abs(v) * 2 ** -11 + 1e-7));
    model.dispose();
    again.dispose();
  });

  it("loads an untied head", async () => {
    seed(24);
    const model = gpt2(new GPT2Config({ ...small(), tieWordEmbeddings: false }));
    const dir = join(work, "untied");
    await model.savePretrained(dir);
    const again = await fromPretrained<GPT2LMHeadModel>(dir);
    expect(again.lm_head.weight).not.toBe(again.transformer.wte.weight);
    expect(again.lm_head.weight.variable.dataSync()).toEqual(model.lm_head.weight.variable.dataSync());
    model.dispose();
    again.dispose();
  });

  it("leaves no tensors behind when loading", async () => {
    const before = tf.memory().numTensors;
    const model = await fromPretrained<GPT2LMHeadModel>(GOLDEN);
    const held = model.parameters().length;
    expect(tf.memory().numTensors - before).toBe(held);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });
});

describe("fromPretrained errors", () => {
  it("names a folder without config.json", async () => {
    const dir = join(work, "empty");
    rmSync(dir, { recursive: true, force: true });
    mkdirSync(dir, { recursive: true });
    await expect(fromPretrained(dir)).rejects.toThrow(/no config\.json in/);
  });

  it("names an unsupported model_type and lists the supported ones", async () => {
    const dir = join(work, "bert");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "config.json"), JSON.stringify({ model_type: "bert" }));
    await expect(fromPretrained(dir)).rejects.toThrow(/model_type "bert".*not supported; supported: gpt2/);
  });

  it("explains that only safetensors weights are read", async () => {
    const dir = join(work, "bin-only");
    mkdirSync(dir, { recursive: true });
    copyFileSync(join(GOLDEN, "config.json"), join(dir, "config.json"));
    writeFileSync(join(dir, "pytorch_model.bin"), "x");
    await expect(fromPretrained(dir)).rejects.toThrow(/no model\.safetensors[\s\S]*pytorch_model\.bin[\s\S]*safe_serialization/);
  });

  it("names the keys that do not fit the config", async () => {
    const dir = join(work, "wrong-layers");
    mkdirSync(dir, { recursive: true });
    const config = JSON.parse(readFileSync(join(GOLDEN, "config.json"), "utf8"));
    writeFileSync(join(dir, "config.json"), JSON.stringify({ ...config, n_layer: 3 }));
    copyFileSync(join(GOLDEN, "model.safetensors"), join(dir, "model.safetensors"));
    await expect(fromPretrained(dir)).rejects.toThrow(/missing: transformer\.h\.2\.ln_1\.weight/);
  });

  it("rejects a path that is neither a folder nor a hub id", async () => {
    await expect(fromPretrained("./no/such folder!")).rejects.toThrow(/neither an existing folder nor a hub id/);
  });
});
