import * as tf from "@tensorflow/tfjs";
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { expectNoLeak, ready, seed } from "../../src/engine/index.js";
import { readSafetensors, writeSafetensors } from "../../src/io/index.js";
import { BartConfig, BartForConditionalGeneration, bart, fromPretrained } from "../../src/models/index.js";

const GOLDEN = fileURLToPath(new URL("../fixtures/bart-golden", import.meta.url));
const work = mkdtempSync(join(tmpdir(), "lora-lab-bart-pretrained-"));
const small = (fields: Partial<ConstructorParameters<typeof BartConfig>[0]> = {}) =>
  new BartConfig({
    vocabSize: 40,
    maxPositionEmbeddings: 16,
    dModel: 16,
    encoderLayers: 2,
    decoderLayers: 1,
    encoderAttentionHeads: 4,
    decoderAttentionHeads: 2,
    encoderFfnDim: 24,
    decoderFfnDim: 20,
    ...fields,
  });

beforeAll(async () => {
  await ready({ backend: "wasm" });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("BartConfig", () => {
  it("has transformers' BartConfig defaults and reads config.json under its names", () => {
    const c = new BartConfig();
    expect(c.toJSON()).toMatchObject({
      model_type: "bart",
      architectures: ["BartForConditionalGeneration"],
      vocab_size: 50265,
      d_model: 1024,
      encoder_layers: 12,
      decoder_layers: 12,
      encoder_attention_heads: 16,
      encoder_ffn_dim: 4096,
      activation_function: "gelu",
      max_position_embeddings: 1024,
      dropout: 0.1,
      attention_dropout: 0,
      scale_embedding: false,
      pad_token_id: 1,
      bos_token_id: 0,
      eos_token_id: 2,
      decoder_start_token_id: 2,
      forced_eos_token_id: 2,
      forced_bos_token_id: null,
    });
    const base = BartConfig.preset("bart-base");
    expect(BartConfig.fromJSON(base.toJSON())).toEqual(base);
    // Older files (bart-large-cnn) ask for the BOS token with force_bos_token_to_be_generated.
    expect(BartConfig.fromJSON({ model_type: "bart", force_bos_token_to_be_generated: true }).forcedBosTokenId).toBe(0);
    expect(BartConfig.fromJSON({ model_type: "bart", classifier_dropout: 0.0, num_hidden_layers: 12 }).encoderLayers).toBe(12);
  });

  it("names the field that is wrong", () => {
    expect(() => BartConfig.fromJSON({ model_type: "t5" })).toThrow(/model_type "t5", expected "bart"/);
    expect(() => new BartConfig({ dModel: 30, encoderAttentionHeads: 4, decoderAttentionHeads: 5 })).toThrow(
      /dModel \(30\) must be divisible by encoderAttentionHeads \(4\)/,
    );
    expect(() => new BartConfig({ activationFunction: "swish" })).toThrow(/activationFunction "swish" is unknown; available: .*gelu/);
    expect(() => new BartConfig({ vocabSize: 2 })).toThrow(
      /padTokenId must be a token id in \[0, 2\)|eosTokenId must be a token id in \[0, 2\)/,
    );
    expect(() => new BartConfig({ dropout: 1 })).toThrow(/BartConfig.dropout must be a probability/);
    expect(() => BartConfig.preset("bart-huge")).toThrow(/unknown BART preset "bart-huge"; available: tiny, bart-base, bart-large/);
  });
});

describe("BART savePretrained / fromPretrained", () => {
  it.each([
    ["tied", {}],
    ["untied, scaled, relu", { tieWordEmbeddings: false, scaleEmbedding: true, activationFunction: "relu" }],
  ])("round-trips a %s model with its final_logits_bias to identical logits, in evaluation mode", async (name, fields) => {
    seed(41);
    const model = bart(small(fields)).eval();
    const bias = tf.randomNormal([1, 40], 0, 1, "float32", 7);
    model.loadStateDict({ ...model.stateDict(), final_logits_bias: bias });
    bias.dispose();
    const dir = join(work, name.replace(/\W+/g, "-"));
    await model.savePretrained(dir);
    const again = await fromPretrained<BartForConditionalGeneration>(dir);
    expect(again).toBeInstanceOf(BartForConditionalGeneration);
    expect(again.config).toEqual(model.config);
    expect(again.training).toBe(false);
    const src = [[3, 5, 9, 33, 2, 1]];
    const dec = [[2, 0, 7, 8]];
    expect(again.forward(src, dec).dataSync()).toEqual(model.forward(src, dec).dataSync());
    expect(again.finalLogitsBias.dataSync()).toEqual(model.finalLogitsBias.dataSync());
    expect(again.model.decoder.embed_tokens.weight).toBe(again.model.shared.weight);
    if (model.config.tieWordEmbeddings) expect(again.lm_head.weight).toBe(again.model.shared.weight);
    else expect(again.lm_head.weight).not.toBe(again.model.shared.weight);
    model.dispose();
    again.dispose();
  });

  it("writes the files transformers writes: model.shared.weight once, final_logits_bias [1, vocab], lm_head only when untied", async () => {
    seed(42);
    const tied = bart(small());
    await tied.savePretrained(join(work, "layout-tied"));
    const untied = bart(small({ tieWordEmbeddings: false }));
    await untied.savePretrained(join(work, "layout-untied"));
    const a = await readSafetensors(join(work, "layout-tied", "model.safetensors"));
    const b = await readSafetensors(join(work, "layout-untied", "model.safetensors"));
    expect(a.metadata).toEqual({ format: "pt" });
    const keys = Object.keys(a.tensors);
    for (const k of ["model.shared.weight", "model.decoder.layers.0.encoder_attn.k_proj.bias", "model.encoder.layernorm_embedding.weight"])
      expect(keys).toContain(k);
    for (const alias of ["model.encoder.embed_tokens.weight", "model.decoder.embed_tokens.weight", "lm_head.weight"])
      expect(keys).not.toContain(alias);
    expect(a.tensors.final_logits_bias.shape).toEqual([1, 40]);
    expect(a.tensors["model.encoder.embed_positions.weight"].shape).toEqual([18, 16]); // 16 positions + the offset of 2
    expect(a.tensors["model.encoder.layers.0.fc1.weight"].shape).toEqual([24, 16]); // Linear [out, in]
    expect(Object.keys(b.tensors)).toContain("lm_head.weight");
    const config = JSON.parse(readFileSync(join(work, "layout-tied", "config.json"), "utf8"));
    expect(config).toMatchObject({
      model_type: "bart",
      is_encoder_decoder: true,
      d_model: 16,
      encoder_layers: 2,
      tie_word_embeddings: true,
    });
    // The pad row of the shared embedding starts at zero, as nn.Embedding(padding_idx=pad_token_id).
    expect([...tied.model.shared.weight.variable.slice([1, 0], [1, 16]).dataSync()].every((v) => v === 0)).toBe(true);
    tied.dispose();
    untied.dispose();
  });

  it("leaves only the parameters and the final_logits_bias buffer behind when loading", async () => {
    const before = tf.memory().numTensors;
    const model = await fromPretrained<BartForConditionalGeneration>(`${GOLDEN}/untied-scaled`);
    expect(tf.memory().numTensors - before).toBe(model.parameters().length + 1);
    model.dispose();
    expect(tf.memory().numTensors).toBe(before);
  });

  it("names the tensors that do not fit the config: missing layers, a wrong shape, a wrong final_logits_bias", async () => {
    const src = `${GOLDEN}/untied-scaled`;
    const config = JSON.parse(readFileSync(join(src, "config.json"), "utf8"));
    const folder = (name: string, cfg: object) => {
      const dir = join(work, name);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "config.json"), JSON.stringify(cfg));
      return dir;
    };
    const more = folder("more-layers", { ...config, decoder_layers: 4 });
    copyFileSync(join(src, "model.safetensors"), join(more, "model.safetensors"));
    await expect(fromPretrained(more)).rejects.toThrow(
      /do not fit a bart model[\s\S]*missing: model\.decoder\.layers\.3\.self_attn\.k_proj\.weight/,
    );
    const wider = folder("wider-ffn", { ...config, encoder_ffn_dim: 41 });
    copyFileSync(join(src, "model.safetensors"), join(wider, "model.safetensors"));
    await expect(fromPretrained(wider)).rejects.toThrow(
      /shape mismatch[\s\S]*model\.encoder\.layers\.0\.fc1\.weight: checkpoint \[40,32\] vs model \[41,32\]/,
    );
    const { tensors } = await readSafetensors(join(src, "model.safetensors"));
    const badBias = folder("bad-bias", config);
    await writeSafetensors(join(badBias, "model.safetensors"), {
      ...tensors,
      final_logits_bias: { ...tensors.final_logits_bias, shape: [67, 1] },
    });
    await expect(fromPretrained(badBias)).rejects.toThrow(/final_logits_bias: checkpoint \[67,1\] vs model \[1,67\]/);
  });
});

describe("BART generate", () => {
  it("samples reproducibly from the seed, pads finished rows, reads the source mask, validates its options", () => {
    seed(43);
    const model = bart(small({ forcedEosTokenId: null }));
    const src = [
      [5, 6, 7, 8, 9],
      [10, 11, 12, 1, 1],
    ];
    const opts = {
      maxNewTokens: 6,
      temperature: 1.0,
      topK: 10,
      attentionMask: [
        [1, 1, 1, 1, 1],
        [1, 1, 1, 0, 0],
      ],
    };
    seed(7);
    const a = model.generate(src, opts);
    seed(7);
    expect(model.generate(src, opts)).toEqual(a);
    expect(a.every((row) => row[0] === 2 && row.length === 7 && row.every((t) => t >= 0 && t < 40))).toBe(true);
    // Greedy with the second row's padding masked equals greedy on that row alone.
    const greedy = { maxNewTokens: 5, temperature: 0, eosTokenId: null };
    const batch = model.generate(src, { ...greedy, attentionMask: opts.attentionMask });
    expect(batch[1]).toEqual(model.generate([10, 11, 12], greedy)[0]);
    // A stop token ends a row, which is then padded with pad_token_id (1).
    const first = batch[0][1];
    const stopped = model.generate(src, { ...greedy, eosTokenId: first });
    expect(stopped[0]).toEqual([2, first, 1, 1, 1, 1].slice(0, stopped[0].length));
    // Forced tokens: the config's or the call's.
    const forced = model.generate([5, 6], { ...greedy, forcedBosTokenId: 9, forcedEosTokenId: 4 })[0];
    expect([forced.length, forced[1], forced[5]]).toEqual([6, 9, 4]);
    expect(() => model.generate(src, { ...greedy, forcedBosTokenId: 40 })).toThrow(/forcedBosTokenId 40 is not a token id in \[0, 40\)/);
    expect(() => model.generate(src, { ...greedy, max_new_tokens: 3 } as never)).toThrow(/unknown option max_new_tokens/);
    model.dispose();
  });

  it("LayerDrop skips layers only in training: at p near 1 the encoder output is the embeddings' LayerNorm", () => {
    seed(44);
    const model = bart(small({ encoderLayerdrop: 0.999999, dropout: 0 }));
    const ids = tf.tensor2d([[3, 4, 5]], undefined, "int32");
    const enc = model.model.encoder;
    const trained = enc.forward(ids, null);
    const embedded = tf.tidy(() => enc.layernorm_embedding.forward(enc.embed_tokens.forward(ids).add(enc.embed_positions.forward(ids))));
    expect(trained.sub(embedded).abs().max().dataSync()[0]).toBe(0);
    model.eval();
    const evaluated = enc.forward(ids, null);
    expect(evaluated.sub(embedded).abs().max().dataSync()[0]).toBeGreaterThan(1e-2);
    tf.dispose([ids, trained, embedded, evaluated]);
    model.dispose();
  });

  it("dropout (embeddings, attention, activations) acts only in training, reproducibly from the seed, and leaks nothing", async () => {
    seed(45);
    const model = bart(small({ dropout: 0.1, attentionDropout: 0.1, activationDropout: 0.1 }));
    const src = [[3, 4, 5, 6]];
    const labels = [[7, 8, 2]];
    const lossAt = (s: number) => {
      seed(s);
      const l = model.loss(src, labels);
      const v = l.dataSync()[0];
      l.dispose();
      return v;
    };
    expect(lossAt(1)).toBe(lossAt(1));
    expect(lossAt(1)).not.toBe(lossAt(2));
    const vars = model.trainableVariables();
    await expectNoLeak(() => {
      const { value, grads } = tf.variableGrads(() => model.loss(src, labels), vars);
      tf.dispose([value, ...Object.values(grads)]);
    });
    model.eval();
    expect(lossAt(1)).toBe(lossAt(2));
    model.dispose();
  });

  it("positions beyond max_position_embeddings are an error that names the limit", () => {
    const model = bart(small());
    expect(() => model.forward([Array(17).fill(5)], [[2]])).toThrow(
      /sequence length 17 exceeds the model's 16 positions \(max_position_embeddings\)/,
    );
    model.dispose();
  });
});
