/**
 * Prefix tuning and bottleneck adapters on the LLaMA family (grouped-query attention) and BART: the
 * widths come from the family's config, and the prefixed forward matches a reference written here
 * from the published architecture in plain arithmetic.
 */
import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { expectNoLeak, ready, seed } from "../../src/engine/index.js";
import { bart, BartConfig, llama, LlamaConfig, type LlamaForCausalLM } from "../../src/models/index.js";
import {
  BottleneckLayer,
  DEFAULT_BOTTLENECK_TARGETS,
  getBottleneckModel,
  getPrefixTuningModel,
  PrefixGroupedAttention,
} from "../../src/peft/index.js";
import { train } from "../../src/train/index.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

const [V, C, NH, NKV, I, P] = [32, 16, 4, 2, 24, 3];
const HS = C / NH;
const tinyLlama = (layers = 1): LlamaForCausalLM => {
  seed(3);
  return llama(
    new LlamaConfig({
      vocabSize: V,
      hiddenSize: C,
      intermediateSize: I,
      numHiddenLayers: layers,
      numAttentionHeads: NH,
      numKeyValueHeads: NKV,
      maxPositionEmbeddings: 32,
      tieWordEmbeddings: true,
      bosTokenId: null,
      eosTokenId: null,
    }),
  );
};

const data = (t: tf.Tensor): Float32Array => t.dataSync() as Float32Array;
const dot = (a: ArrayLike<number>, b: ArrayLike<number>, ao = 0, bo = 0, n = a.length) => {
  let s = 0;
  for (let i = 0; i < n; i++) s += a[ao + i] * b[bo + i];
  return s;
};
/** y = W x for a torch-layout weight [out, in]. */
const linear = (W: Float32Array, out: number, x: ArrayLike<number>) =>
  Array.from({ length: out }, (_, o) => dot(W, x, o * x.length, 0, x.length));
const rmsnorm = (x: number[], w: Float32Array, eps: number) => {
  const r = 1 / Math.sqrt(x.reduce((s, v) => s + v * v, 0) / x.length + eps);
  return x.map((v, i) => v * r * w[i]);
};
/** RoPE on one head vector at position m: pairs (i, i + d/2) turned by m * theta^(-2i/d). */
const rope = (x: number[], m: number, theta: number) => {
  const d = x.length;
  const out = [...x];
  for (let i = 0; i < d / 2; i++) {
    const a = m * theta ** (-(2 * i) / d);
    out[i] = x[i] * Math.cos(a) - x[i + d / 2] * Math.sin(a);
    out[i + d / 2] = x[i + d / 2] * Math.cos(a) + x[i] * Math.sin(a);
  }
  return out;
};

/**
 * Logits of a one-layer LLaMA whose attention has learned prefixes: every query sees the P prefix
 * keys (unrotated, as PEFT's past keys) and the causal present ones; query head h reads kv head
 * floor(h / (NH / NKV)).
 */
function reference(w: Record<string, Float32Array>, ids: number[], cfg: LlamaConfig): number[][] {
  const T = ids.length;
  const eps = cfg.rmsNormEps;
  const E = w["model.embed_tokens.weight"];
  const x = ids.map((id) => Array.from(E.subarray(id * C, (id + 1) * C)));
  const h = x.map((v) => rmsnorm(v, w["model.layers.0.input_layernorm.weight"], eps));
  const q = h.map((v) => linear(w["model.layers.0.self_attn.q_proj.weight"], NH * HS, v));
  const k = h.map((v) => linear(w["model.layers.0.self_attn.k_proj.weight"], NKV * HS, v));
  const val = h.map((v) => linear(w["model.layers.0.self_attn.v_proj.weight"], NKV * HS, v));
  const pk = w["model.layers.0.self_attn.prefix_key"];
  const pv = w["model.layers.0.self_attn.prefix_value"];
  const head = (row: ArrayLike<number>, g: number) => Array.from(row).slice(g * HS, (g + 1) * HS);
  const attn: number[][] = [];
  for (let t = 0; t < T; t++) {
    const y: number[] = [];
    for (let hd = 0; hd < NH; hd++) {
      const g = Math.floor(hd / (NH / NKV));
      const qh = rope(head(q[t], hd), t, cfg.ropeTheta);
      const keys = [
        ...Array.from({ length: P }, (_, p) => head(pk.subarray(p * NKV * HS), g)),
        ...k.slice(0, t + 1).map((kk, j) => rope(head(kk, g), j, cfg.ropeTheta)),
      ];
      const vals = [
        ...Array.from({ length: P }, (_, p) => head(pv.subarray(p * NKV * HS), g)),
        ...val.slice(0, t + 1).map((vv) => head(vv, g)),
      ];
      const s = keys.map((kk) => dot(qh, kk) / Math.sqrt(HS));
      const mx = Math.max(...s);
      const e = s.map((v) => Math.exp(v - mx));
      const z = e.reduce((a, b) => a + b, 0);
      for (let d = 0; d < HS; d++) y.push(e.reduce((a, ei, j) => a + (ei / z) * vals[j][d], 0));
    }
    attn.push(y);
  }
  const h1 = x.map((v, t) => {
    const o = linear(w["model.layers.0.self_attn.o_proj.weight"], C, attn[t]);
    return v.map((vi, i) => vi + o[i]);
  });
  return h1.map((v) => {
    const n = rmsnorm(v, w["model.layers.0.post_attention_layernorm.weight"], eps);
    const gate = linear(w["model.layers.0.mlp.gate_proj.weight"], I, n);
    const up = linear(w["model.layers.0.mlp.up_proj.weight"], I, n);
    const act = gate.map((a, i) => (a / (1 + Math.exp(-a))) * up[i]);
    const down = linear(w["model.layers.0.mlp.down_proj.weight"], C, act);
    const out = rmsnorm(
      v.map((vi, i) => vi + down[i]),
      w["model.norm.weight"],
      eps,
    );
    return linear(E, V, out);
  });
}

describe("prefix tuning on a LLaMA (grouped-query attention)", () => {
  it("holds P keys and values per layer of num_key_value_heads * head_dim, and matches the reference forward", async () => {
    const base = tinyLlama();
    const model = getPrefixTuningModel(base, { numVirtualTokens: P });
    const layer = base.getSubmodule("model.layers.0.self_attn");
    expect(layer).toBeInstanceOf(PrefixGroupedAttention);
    expect((layer as PrefixGroupedAttention).prefix_key.shape).toEqual([P, NKV * HS]);
    expect(model.getNbTrainableParameters()[0]).toBe(2 * P * NKV * HS);
    const ids = [5, 1, 30, 7, 2, 9];
    const weights = Object.fromEntries(Object.entries(base.stateDict()).map(([k, v]) => [k.replace(".base_layer", ""), data(v)]));
    const want = reference(weights, ids, base.config);
    const got = await expectNoLeak(() => {
      const t = model.forward([ids]);
      const out = t.arraySync() as number[][][];
      t.dispose();
      return out[0];
    });
    let err = 0;
    want.forEach((row, t) => row.forEach((v, j) => (err = Math.max(err, Math.abs(v - got[t][j])))));
    expect(err).toBeLessThan(1e-4);
    // Adapter off: the base model itself.
    const plain = tinyLlama();
    const off = model.disableAdapter(() => data(model.forward([ids])));
    const baseLogits = data(plain.forward([ids]));
    expect(Array.from(off)).toEqual(Array.from(baseLogits));
    expect(Math.max(...Array.from(baseLogits, (v, i) => Math.abs(v - got[Math.floor(i / V)][i % V])))).toBeGreaterThan(1e-3);
    model.dispose();
    plain.dispose();
  });

  it("gives each padded row the logits of its unpadded self, and generates the same with and without the KV cache", () => {
    const base = tinyLlama(2);
    const model = getPrefixTuningModel(base, { numVirtualTokens: P });
    const row = [4, 8, 15, 16];
    const alone = data(model.forward([row]));
    // Right padding: the real positions keep their positions and see the prefix and each other only.
    const padded = model.forward([[...row, 0, 0]], { attentionMask: [[1, 1, 1, 1, 0, 0]] }) as tf.Tensor;
    const first = data(padded.slice([0, 0, 0], [1, 4, V]));
    expect(Math.max(...Array.from(first, (v, i) => Math.abs(v - alone[i])))).toBeLessThan(1e-5);
    padded.dispose();
    const cached = base.generate([row], { maxNewTokens: 5, temperature: 0 });
    const uncached = base.generate([row], { maxNewTokens: 5, temperature: 0, useCache: false });
    expect(cached).toEqual(uncached);
    model.dispose();
  });

  it("trains the prefixes only", async () => {
    const base = tinyLlama(2);
    const frozen = data(base.getSubmodule("model.layers.1.mlp.down_proj").namedParameters().get("weight")!.variable).slice();
    const model = getPrefixTuningModel(base, { numVirtualTokens: P });
    const prefix = () => data((base.getSubmodule("model.layers.1.self_attn") as PrefixGroupedAttention).prefix_value.variable).slice();
    const before = prefix();
    const inputIds = Int32Array.from({ length: 16 }, (_, i) => (i * 5) % V);
    const targets = Int32Array.from({ length: 16 }, (_, i) => (i * 5 + 1) % V);
    await train(model, { data: [{ inputIds, targets, shape: [2, 8] }], steps: 2, lr: 1e-2, progress: false });
    expect(prefix()).not.toEqual(before);
    expect(data(base.getSubmodule("model.layers.1.mlp.down_proj").namedParameters().get("weight")!.variable)).toEqual(frozen);
    model.dispose();
  });

  it("names what it supports when a model has no such attention", () => {
    seed(0);
    expect(() => getPrefixTuningModel(bart(BartConfig.preset("tiny")) as never)).toThrow(
      /grouped-query q\/k\/v\/o_proj attention.*BartAttention/s,
    );
  });
});

describe("bottleneck adapters on the LLaMA family and BART", () => {
  it("default to o_proj and down_proj on llama, qwen2 and mistral, hidden_size wide, starting as the identity", () => {
    for (const type of ["llama", "qwen2", "mistral"]) expect(DEFAULT_BOTTLENECK_TARGETS[type]).toEqual(["o_proj", "down_proj"]);
    const base = tinyLlama(2);
    const ids = [[1, 2, 3, 4]];
    const before = data(base.forward(ids));
    const model = getBottleneckModel(base, { bottleneckSize: 4 });
    const wrapped = [...base.namedModules()].filter(([, m]) => m instanceof BottleneckLayer).map(([k]) => k);
    expect(wrapped).toEqual([
      "model.layers.0.self_attn.o_proj",
      "model.layers.0.mlp.down_proj",
      "model.layers.1.self_attn.o_proj",
      "model.layers.1.mlp.down_proj",
    ]);
    expect(model.getNbTrainableParameters()[0]).toBe(4 * (C * 4 + 4 + 4 * C + C));
    expect(Array.from(data(model.forward(ids)))).toEqual(Array.from(before));
    model.dispose();
  });

  it("default to out_proj and fc2 on BART, d_model wide", () => {
    seed(0);
    const cfg = BartConfig.preset("tiny");
    const base = bart(cfg);
    const model = getBottleneckModel(base as never, { bottleneckSize: 4 });
    const wrapped = [...base.namedModules()].filter(([, m]) => m instanceof BottleneckLayer).map(([k]) => k.split(".").at(-1));
    const L = cfg.encoderLayers + cfg.decoderLayers;
    // Encoder: self-attention and fc2; decoder: self-attention, cross-attention and fc2.
    expect(wrapped.filter((n) => n === "out_proj")).toHaveLength(cfg.encoderLayers + 2 * cfg.decoderLayers);
    expect(wrapped.filter((n) => n === "fc2")).toHaveLength(L);
    expect(model.getNbTrainableParameters()[0]).toBe(wrapped.length * (2 * cfg.dModel * 4 + 4 + cfg.dModel));
    model.dispose();
  });
});
