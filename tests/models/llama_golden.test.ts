import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { beforeAll, describe, expect, it } from "vitest";
import * as tf from "@tensorflow/tfjs";
import { ready, setWasmFastKernels } from "../../src/engine/index.js";
import { LlamaConfig, LlamaForCausalLM, fromPretrained } from "../../src/models/index.js";

// Made by tests/fixtures/make_llama_golden.py: an independent float64 PyTorch implementation of
// transformers' LLaMA / Qwen2 / Mistral, on random weights stored as F32, F16 or BF16.
const GOLDEN = fileURLToPath(new URL("../fixtures/llama-golden", import.meta.url));

interface Expected {
  input_ids: number[][];
  logits: number[];
  logits_shape: number[];
  num_parameters: number;
  targets?: number[][];
  loss?: number;
  greedy_prompt?: number[];
  greedy_ids?: number[];
  padded_input_ids?: number[][];
  attention_mask?: number[][];
  padded_logits?: number[];
  padded_targets?: number[][];
  grads?: Record<string, number[]>;
}
const expectedOf = (name: string) => JSON.parse(readFileSync(`${GOLDEN}/${name}/expected.json`, "utf8")) as Expected;

/** Max |a - b| over the positions where `keep` (one flag per [b, t] row of V logits) is set. */
function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>, V = 1, keep?: number[]): number {
  expect(a.length).toBe(b.length);
  let m = 0;
  for (let i = 0; i < a.length; i++) if (!keep || keep[Math.floor(i / V)]) m = Math.max(m, Math.abs(a[i] - b[i]));
  return m;
}

async function logitsDiff(dir: string, model?: LlamaForCausalLM): Promise<number> {
  const e = expectedOf(dir);
  const m = model ?? (await fromPretrained<LlamaForCausalLM>(`${GOLDEN}/${dir}`));
  const logits = m.forward(e.input_ids);
  expect(logits.shape).toEqual(e.logits_shape);
  const diff = maxAbsDiff(logits.dataSync(), e.logits);
  logits.dispose();
  m.dispose();
  return diff;
}

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

describe("LLaMA family against the PyTorch reference (fp32, max abs diff < 1e-4)", () => {
  const cases = [
    ["llama-gqa-tied", "llama", "grouped-query attention, tied head"],
    ["llama-untied", "llama", "untied head, attention and MLP biases, head_dim 12, linear RoPE scaling"],
    ["llama-rope-llama3", "llama", "llama3 RoPE scaling, one kv head"],
    ["qwen2-bias", "qwen2", "q/k/v biases without o_proj bias, F16 weights"],
    ["mistral-window-bf16-sharded", "mistral", "sliding window 5 over 12 tokens, BF16 weights in two shards"],
  ] as const;
  for (const [dir, type, what] of cases) {
    it(`${dir}: ${what}`, async () => {
      const model = await fromPretrained<LlamaForCausalLM>(`${GOLDEN}/${dir}`);
      expect(model).toBeInstanceOf(LlamaForCausalLM);
      expect(model.config.modelType).toBe(type);
      expect(model.numParameters()).toBe(expectedOf(dir).num_parameters);
      expect(await logitsDiff(dir, model)).toBeLessThan(1e-4);
    });
  }

  it("the composed ops (lora-lab's fused wasm kernels off) give the reference logits too", async () => {
    setWasmFastKernels(false);
    try {
      for (const [dir] of cases) expect(await logitsDiff(dir)).toBeLessThan(1e-4);
    } finally {
      setWasmFastKernels(true);
    }
  });

  it("the fixtures exercise their feature: dropping RoPE scaling or the window changes the logits", async () => {
    // Same weights, config without the feature: far from the reference, so the cases above can fail.
    for (const [dir, change] of [
      ["llama-rope-llama3", { ropeScaling: null }],
      ["llama-untied", { ropeScaling: null }],
      ["mistral-window-bf16-sharded", { slidingWindow: null }],
    ] as const) {
      const loaded = await fromPretrained<LlamaForCausalLM>(`${GOLDEN}/${dir}`);
      const other = new LlamaForCausalLM(new LlamaConfig({ ...LlamaConfig.schema.fieldsOf(loaded.config), ...change }));
      other.loadStateDict(loaded.stateDict());
      loaded.dispose();
      expect(await logitsDiff(dir, other)).toBeGreaterThan(1e-3);
    }
  });

  it("padding mask (left and right padding): the unpadded positions match the reference", async () => {
    const e = expectedOf("llama-gqa-tied");
    const model = await fromPretrained<LlamaForCausalLM>(`${GOLDEN}/llama-gqa-tied`);
    const mask = e.attention_mask!;
    const logits = model.forward(e.padded_input_ids!, { attentionMask: mask });
    const V = logits.shape[2];
    expect(maxAbsDiff(logits.dataSync(), e.padded_logits!, V, mask.flat())).toBeLessThan(1e-4);
    // Without the mask the padded rows differ: the mask is what makes them match.
    const unmasked = model.forward(e.padded_input_ids!);
    expect(maxAbsDiff(unmasked.dataSync(), e.padded_logits!, V, mask.flat())).toBeGreaterThan(1e-3);
    tf.dispose([logits, unmasked]);
    model.dispose();
  });

  it("gradients of the padded batch's loss match the reference (through RoPE, GQA, the mask, the tied head)", async () => {
    const e = expectedOf("llama-gqa-tied");
    const model = await fromPretrained<LlamaForCausalLM>(`${GOLDEN}/llama-gqa-tied`);
    const params = model.namedParameters();
    const names = Object.keys(e.grads!);
    const vars = names.map((n) => params.get(n)!.variable);
    const { value, grads } = tf.variableGrads(
      () => model.loss(e.padded_input_ids!, e.padded_targets!, { attentionMask: e.attention_mask! }),
      vars,
    );
    names.forEach((n, i) => {
      const g = grads[vars[i].name].dataSync();
      const ref = e.grads![n];
      const scale = Math.max(...ref.map(Math.abs));
      expect(maxAbsDiff(g, ref) / scale, n).toBeLessThan(1e-4);
    });
    tf.dispose([value, ...Object.values(grads)]);
    model.dispose();
  });

  it("loss ignores -100 targets and matches the reference cross-entropy", async () => {
    const e = expectedOf("llama-gqa-tied");
    const model = await fromPretrained<LlamaForCausalLM>(`${GOLDEN}/llama-gqa-tied`);
    const loss = model.loss(e.input_ids, e.targets!);
    expect(Math.abs(loss.dataSync()[0] - e.loss!)).toBeLessThan(1e-4);
    loss.dispose();
    model.dispose();
  });

  it("greedy generate() continues the prompt as the reference does", async () => {
    const e = expectedOf("llama-gqa-tied");
    const model = await fromPretrained<LlamaForCausalLM>(`${GOLDEN}/llama-gqa-tied`);
    const n = e.greedy_ids!.length - e.greedy_prompt!.length;
    expect(model.generate(e.greedy_prompt!, { maxNewTokens: n, temperature: 0 })).toEqual([e.greedy_ids]);
    model.dispose();
  });
});
