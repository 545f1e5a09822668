import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { readSafetensors, writeSafetensors, fromFloat32 } from "../../src/io/index.js";
import { LlamaConfig, LlamaForCausalLM, fromPretrained, llama } from "../../src/models/index.js";

const work = mkdtempSync(join(tmpdir(), "lora-lab-llama-pretrained-"));
const small = (fields: Partial<ConstructorParameters<typeof LlamaConfig>[0]> = {}) =>
  new LlamaConfig({
    vocabSize: 40,
    hiddenSize: 16,
    intermediateSize: 24,
    numHiddenLayers: 2,
    numAttentionHeads: 4,
    numKeyValueHeads: 2,
    maxPositionEmbeddings: 16,
    ...fields,
  });
const ids = [[1, 5, 9, 33, 2, 0]];

beforeAll(async () => {
  await ready({ backend: "wasm" });
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("LLaMA savePretrained / fromPretrained", () => {
  for (const [type, extra] of [
    ["llama", { tieWordEmbeddings: false }],
    ["qwen2", { tieWordEmbeddings: true }],
    ["mistral", { slidingWindow: 3 }],
  ] as const) {
    it(`${type}: round-trips to identical logits, writing model_type "${type}" and HF's keys`, async () => {
      seed(31);
      const model = llama(small({ modelType: type, ...extra })).eval();
      const dir = join(work, `roundtrip-${type}`);
      await model.savePretrained(dir);
      const config = JSON.parse(readFileSync(join(dir, "config.json"), "utf8"));
      expect(config.model_type).toBe(type);
      const keys = Object.keys((await readSafetensors(join(dir, "model.safetensors"))).tensors);
      expect(keys).toContain("model.layers.1.self_attn.q_proj.weight");
      expect(keys.includes("lm_head.weight")).toBe(!model.config.tieWordEmbeddings); // a tied head is not stored
      expect(keys.includes("model.layers.0.self_attn.q_proj.bias")).toBe(type === "qwen2");
      const again = await fromPretrained<LlamaForCausalLM>(dir);
      expect(again.config).toEqual(model.config);
      expect(again.forward(ids).dataSync()).toEqual(model.forward(ids).dataSync());
      model.dispose();
      again.dispose();
    });
  }

  it("writes and reads shards with an index; BF16 loads back within bf16 rounding", async () => {
    seed(32);
    const model = llama(small({ tieWordEmbeddings: false }));
    const dir = join(work, "sharded");
    await model.savePretrained(dir, { dtype: "BF16", maxShardSize: 4000 });
    expect(existsSync(join(dir, "model.safetensors"))).toBe(false);
    const index = JSON.parse(readFileSync(join(dir, "model.safetensors.index.json"), "utf8"));
    const files = [...new Set(Object.values(index.weight_map as Record<string, string>))];
    expect(files.length).toBeGreaterThan(2);
    expect(files[0]).toBe(`model-00001-of-${String(files.length).padStart(5, "0")}.safetensors`);
    expect(index.metadata.total_size).toBe(2 * model.numParameters()); // two bytes per bf16 value
    expect(Object.keys(index.weight_map).sort()).toEqual(Object.keys(model.stateDict()).sort());
    const again = await fromPretrained<LlamaForCausalLM>(dir);
    const a = model.model.layers.at(1).mlp.up_proj.weight.variable.dataSync();
    const b = again.model.layers.at(1).mlp.up_proj.weight.variable.dataSync();
    a.forEach((v, i) => expect(Math.abs(v - b[i])).toBeLessThanOrEqual(Math.abs(v) * 2 ** -8));
    // Saving again as one file removes the index, so the old shards are not read.
    await again.savePretrained(dir);
    expect(existsSync(join(dir, "model.safetensors.index.json"))).toBe(false);
    model.dispose();
    again.dispose();
  });

  it("loads a checkpoint with the inv_freq buffers older conversions carry", async () => {
    seed(33);
    const model = llama(small()).eval();
    const dir = join(work, "inv-freq");
    await model.savePretrained(dir);
    const file = await readSafetensors(join(dir, "model.safetensors"));
    file.tensors["model.layers.0.self_attn.rotary_emb.inv_freq"] = fromFloat32(new Float32Array(2), [2]);
    await writeSafetensors(join(dir, "model.safetensors"), file.tensors, { format: "pt" });
    const again = await fromPretrained<LlamaForCausalLM>(dir);
    expect(again.forward(ids).dataSync()).toEqual(model.forward(ids).dataSync());
    model.dispose();
    again.dispose();
  });
});

describe("LLaMA fromPretrained errors", () => {
  it("names the missing file: config.json, the weights, a shard of the index", async () => {
    const empty = join(work, "empty");
    mkdirSync(empty, { recursive: true });
    await expect(fromPretrained(empty)).rejects.toThrow(/no config\.json in .*empty/);
    writeFileSync(join(empty, "config.json"), JSON.stringify(small().toJSON()));
    await expect(fromPretrained(empty)).rejects.toThrow(
      /no model\.safetensors or model\.safetensors\.index\.json in .*empty \(files: config\.json\)/,
    );
    seed(34);
    const dir = join(work, "missing-shard");
    const model = llama(small());
    await model.savePretrained(dir, { maxShardSize: 3000 });
    const second = Object.values(
      JSON.parse(readFileSync(join(dir, "model.safetensors.index.json"), "utf8")).weight_map as Record<string, string>,
    ).find((f) => f.startsWith("model-00002-"))!;
    rmSync(join(dir, second));
    await expect(fromPretrained(dir)).rejects.toThrow(
      new RegExp(
        `names the shard ${second.replaceAll(".", "\\.")}, which is missing \\(files: config\\.json, generation_config\\.json, model-00001-of-`,
      ),
    );
    model.dispose();
  });

  it("names the tensor whose shape does not fit config.json", async () => {
    seed(35);
    const dir = join(work, "mismatch");
    const model = llama(small());
    await model.savePretrained(dir);
    // The same weights read under a config with more kv heads: k_proj and v_proj are too small.
    writeFileSync(join(dir, "config.json"), JSON.stringify(small({ numKeyValueHeads: 4 }).toJSON()));
    await expect(fromPretrained(dir)).rejects.toThrow(
      /model\.layers\.0\.self_attn\.k_proj\.weight: checkpoint \[8,16\] vs model \[16,16\]/,
    );
    model.dispose();
  });

  it("lists the supported model types for an unknown one", async () => {
    const dir = join(work, "unknown-type");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "config.json"), JSON.stringify({ ...small().toJSON(), model_type: "falcon" }));
    await expect(fromPretrained(dir)).rejects.toThrow(
      /model_type "falcon" in .*config\.json is not supported; supported: gpt2, t5, llama, qwen2, mistral/,
    );
  });
});
