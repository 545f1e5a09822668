/**
 * savePretrained writes generation_config.json as transformers' save_pretrained does for a model
 * whose generation settings come from its config (GenerationConfig.from_model_config): the token
 * ids that are set, keys sorted, `_from_model_config`. The expected files are the published
 * checkpoints' own generation_config.json, less transformers_version (lora-lab's config.json does
 * not write it either) and the beam-search settings BART's config carries but lora-lab's does not.
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { bart, BartConfig, gpt2, GPT2Config, llama, LlamaConfig, t5, T5Config } from "../../src/models/index.js";

const dirs: string[] = [];
beforeAll(async () => {
  await ready({ backend: "wasm" });
});
afterAll(() => dirs.forEach((d) => rmSync(d, { recursive: true, force: true })));

/** The generation_config.json savePretrained writes, as text. */
async function saved(model: { savePretrained(dir: string): Promise<void>; dispose(): void }): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "generation-config-"));
  dirs.push(dir);
  await model.savePretrained(dir);
  model.dispose();
  return readFileSync(join(dir, "generation_config.json"), "utf8");
}
const file = (json: Record<string, unknown>) => JSON.stringify(json, null, 2) + "\n";

// Small shapes with each checkpoint's own token ids.
const smallLlama = { vocabSize: 64, hiddenSize: 16, intermediateSize: 32, numHiddenLayers: 1, numAttentionHeads: 2, numKeyValueHeads: 1 };

describe("savePretrained's generation_config.json", () => {
  it("has SmolLM2-135M's token ids (bos 0, eos 0) and TinyLlama's (bos 1, eos 2)", async () => {
    seed(0);
    expect(await saved(llama(LlamaConfig.preset("smollm2-135m", smallLlama)))).toBe(
      file({ _from_model_config: true, bos_token_id: 0, eos_token_id: 0 }),
    );
    expect(await saved(llama(LlamaConfig.preset("tinyllama-1.1b", smallLlama)))).toBe(
      file({ _from_model_config: true, bos_token_id: 1, eos_token_id: 2 }),
    );
  });

  it("has gpt2's (bos = eos = 50256), t5-small's (decoder start 0, eos 1, pad 0) and bart-base's token ids", async () => {
    seed(0);
    const tinyGpt2 = new GPT2Config({ vocabSize: 50257, nPositions: 8, nEmbd: 8, nLayer: 1, nHead: 2 });
    expect(await saved(gpt2(tinyGpt2))).toBe(file({ _from_model_config: true, bos_token_id: 50256, eos_token_id: 50256 }));
    const smallT5 = { vocabSize: 64, dModel: 16, dKv: 8, dFf: 32, numLayers: 1, numDecoderLayers: 1, numHeads: 2 };
    expect(await saved(t5(T5Config.preset("t5-small", smallT5)))).toBe(
      file({ _from_model_config: true, decoder_start_token_id: 0, eos_token_id: 1, pad_token_id: 0 }),
    );
    const smallBart = {
      vocabSize: 64,
      dModel: 16,
      encoderLayers: 1,
      decoderLayers: 1,
      encoderAttentionHeads: 2,
      decoderAttentionHeads: 2,
      encoderFfnDim: 32,
      decoderFfnDim: 32,
      maxPositionEmbeddings: 16,
    };
    expect(await saved(bart(BartConfig.preset("bart-base", smallBart)))).toBe(
      file({
        _from_model_config: true,
        bos_token_id: 0,
        decoder_start_token_id: 2,
        eos_token_id: 2,
        forced_bos_token_id: 0,
        forced_eos_token_id: 2,
        pad_token_id: 1,
      }),
    );
  });

  it("holds only the marker when the config sets no token id (the byte-vocabulary tiny presets)", async () => {
    seed(0);
    expect(await saved(llama("tiny"))).toBe(file({ _from_model_config: true }));
  });
});
