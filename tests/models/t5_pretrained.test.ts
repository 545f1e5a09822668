import * as tf from "@tensorflow/tfjs";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { readSafetensors } from "../../src/io/index.js";
import { T5Config, T5ForConditionalGeneration, fromPretrained, t5 } from "../../src/models/index.js";

const GOLDEN = fileURLToPath(new URL("../fixtures/t5-golden/gated-tied", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "lora-lab-t5-pretrained-"));
const small = (fields: Partial<ConstructorParameters<typeof T5Config>[0]> = {}) =>
  new T5Config({
    vocabSize: 40,
    dModel: 16,
    dKv: 4,
    dFf: 24,
    numLayers: 2,
    numHeads: 4,
    relativeAttentionNumBuckets: 8,
    relativeAttentionMaxDistance: 16,
    ...fields,
  });

beforeAll(async () => {
  await ready({ backend: "wasm" });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("T5 savePretrained / fromPretrained", () => {
  it.each([
    ["tied relu", {}],
    ["untied gated-gelu, 1 decoder block", { tieWordEmbeddings: false, feedForwardProj: "gated-gelu", numDecoderLayers: 1 }],
  ])("round-trips a %s model to identical logits, in evaluation mode", async (name, fields) => {
    seed(31);
    const model = t5(small(fields)).eval();
    const dir = join(work, name.replace(/\W+/g, "-"));
    await model.savePretrained(dir);
    const again = await fromPretrained<T5ForConditionalGeneration>(dir);
    expect(again).toBeInstanceOf(T5ForConditionalGeneration);
    expect(again.config).toEqual(model.config);
    expect(again.training).toBe(false);
    const src = [[3, 5, 9, 33, 2, 0]];
    const dec = [[0, 7, 8]];
    expect(again.forward(src, dec).dataSync()).toEqual(model.forward(src, dec).dataSync());
    expect(again.encoder.embed_tokens.weight).toBe(again.shared.weight);
    if (model.config.tieWordEmbeddings) expect(again.lm_head.weight).toBe(again.shared.weight);
    else expect(again.lm_head.weight).not.toBe(again.shared.weight);
    model.dispose();
    again.dispose();
  });

  it("writes the files transformers writes: shared.weight once, no aliases, lm_head only when untied", async () => {
    seed(32);
    const tied = t5(small());
    await tied.savePretrained(join(work, "layout-tied"));
    const untied = t5(small({ tieWordEmbeddings: false }));
    await untied.savePretrained(join(work, "layout-untied"));
    const a = await readSafetensors(join(work, "layout-tied", "model.safetensors"));
    const b = await readSafetensors(join(work, "layout-untied", "model.safetensors"));
    expect(a.metadata).toEqual({ format: "pt" });
    const keysA = Object.keys(a.tensors);
    expect(keysA).toContain("shared.weight");
    expect(keysA).toContain("decoder.block.1.layer.1.EncDecAttention.k.weight");
    for (const alias of ["encoder.embed_tokens.weight", "decoder.embed_tokens.weight", "lm_head.weight"])
      expect(keysA).not.toContain(alias);
    expect(Object.keys(b.tensors)).toContain("lm_head.weight");
    expect(a.tensors["encoder.block.0.layer.0.SelfAttention.relative_attention_bias.weight"].shape).toEqual([8, 4]);
    expect(a.tensors["encoder.block.0.layer.1.DenseReluDense.wi.weight"].shape).toEqual([24, 16]); // Linear [out, in]
    const config = JSON.parse(readFileSync(join(work, "layout-tied", "config.json"), "utf8"));
    expect(config).toMatchObject({
      model_type: "t5",
      architectures: ["T5ForConditionalGeneration"],
      d_model: 16,
      num_layers: 2,
      tie_word_embeddings: true,
    });
    tied.dispose();
    untied.dispose();
  });

  it("leaves no tensors behind when loading a checkpoint with alias and legacy keys", async () => {
    const before = tf.memory().numTensors;
    const model = await fromPretrained<T5ForConditionalGeneration>(GOLDEN);
    expect(tf.memory().numTensors - before).toBe(model.parameters().length);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it("names the keys that do not fit the config", async () => {
    const dir = join(work, "wrong-layers");
    mkdirSync(dir, { recursive: true });
    const config = JSON.parse(readFileSync(join(GOLDEN, "config.json"), "utf8"));
    writeFileSync(join(dir, "config.json"), JSON.stringify({ ...config, num_layers: 3 }));
    copyFileSync(join(GOLDEN, "model.safetensors"), join(dir, "model.safetensors"));
    await expect(fromPretrained(dir)).rejects.toThrow(
      /do not fit a t5 model[\s\S]*missing: encoder\.block\.2\.layer\.0\.SelfAttention\.q\.weight/,
    );
  });
});
