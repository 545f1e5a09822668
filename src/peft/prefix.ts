/**
 * Prefix tuning (Li & Liang 2021; PEFT's PrefixTuningConfig without the projection): every
 * attention layer gets `numVirtualTokens` learned key and value vectors that each query may attend
 * to. PEFT feeds them as past_key_values, stored in one [numVirtualTokens, numLayers * 2 * hidden]
 * table; here each layer holds its [numVirtualTokens, hidden] keys and values, the same count.
 */
import * as tf from "@tensorflow/tfjs";
import { init, Module, type Parameter } from "../nn/index.js";
import { causalBias } from "../nn/masks.js";
import type { PeftBaseModel } from "./peft_model.js";
import { TunedModel } from "./tuned_model.js";

export interface PrefixTuningConfigFields {
  /** Learned positions per layer. Default 20 (PEFT's examples). */
  numVirtualTokens: number;
}

/** What prefix tuning needs of an attention module: GPT-2's fused-QKV layout. */
interface FusedQkvAttention extends Module {
  config: { nHead: number; scaleAttnWeights: boolean; scaleAttnByInverseLayerIdx: boolean };
  layerIdx: number;
  c_attn: { forward(x: tf.Tensor): tf.Tensor };
  c_proj: { forward(x: tf.Tensor): tf.Tensor };
  attn_dropout: { forward(x: tf.Tensor): tf.Tensor };
  resid_dropout: { forward(x: tf.Tensor): tf.Tensor };
}

function isFusedQkvAttention(m: Module): m is FusedQkvAttention {
  const a = m as unknown as Partial<FusedQkvAttention>;
  return a.c_attn instanceof Module && a.c_proj instanceof Module && a.attn_dropout instanceof Module && typeof a.config?.nHead === "number";
}

/** GPT-2 attention with learned key/value prefixes; `base_layer` keeps the original projections. */
export class PrefixAttention extends Module {
  readonly base_layer: FusedQkvAttention;
  readonly prefix_key: Parameter;
  readonly prefix_value: Parameter;
  disableAdapters = false;

  constructor(base: FusedQkvAttention, readonly numVirtualTokens: number, hidden: number) {
    super();
    this.base_layer = this.registerModule("base_layer", base);
    // PEFT's PrefixEncoder is an nn.Embedding: N(0, 1) at init.
    const k = init.normal([numVirtualTokens, hidden], 1);
    const v = init.normal([numVirtualTokens, hidden], 1);
    this.prefix_key = this.registerParameter("prefix_key", k);
    this.prefix_value = this.registerParameter("prefix_value", v);
    tf.dispose([k, v]);
  }

  forward(x: tf.Tensor): tf.Tensor {
    const a = this.base_layer;
    if (this.disableAdapters) return (a as unknown as { forward(x: tf.Tensor): tf.Tensor }).forward(x);
    return tf.tidy(() => {
      const [B, T, C] = x.shape as [number, number, number];
      const nh = a.config.nHead;
      const hs = C / nh;
      const P = this.numVirtualTokens;
      const [q, k, v] = tf.split(a.c_attn.forward(x), 3, -1).map((t) => t.reshape([B, T, nh, hs]).transpose([0, 2, 1, 3])); // [B, nh, T, hs]
      const prefix = (p: Parameter) => tf.tile(p.variable.reshape([1, P, nh, hs]).transpose([0, 2, 1, 3]), [B, 1, 1, 1]); // [B, nh, P, hs]
      const keys = tf.concat([prefix(this.prefix_key), k], 2); // [B, nh, P+T, hs]
      const values = tf.concat([prefix(this.prefix_value), v], 2);
      let scale = a.config.scaleAttnWeights ? 1 / Math.sqrt(hs) : 1;
      if (a.config.scaleAttnByInverseLayerIdx) scale /= a.layerIdx + 1;
      const scores = tf.matMul(q, keys, false, true).mul(scale); // [B, nh, T, P+T]
      // Every query sees all prefix positions and the tokens up to itself.
      const causal = causalBias(T); // [T, T]
      const mask = tf.concat([tf.zeros([T, P]), causal], 1); // [T, P+T]
      const att = a.attn_dropout.forward(tf.softmax(scores.add(mask), -1));
      const y = tf.matMul(att, values).transpose([0, 2, 1, 3]).reshape([B, T, C]); // [B, T, C]
      return a.resid_dropout.forward(a.c_proj.forward(y));
    });
  }
}

/** Adds learned prefixes to every GPT-2-style attention layer and freezes the rest. */
export function getPrefixTuningModel(model: PeftBaseModel, fields: Partial<PrefixTuningConfigFields> = {}): TunedModel {
  const P = fields.numVirtualTokens ?? 20;
  if (!Number.isInteger(P) || P <= 0) throw new Error(`numVirtualTokens must be a positive integer, got ${P}`);
  const keys = [...model.namedModules()].filter(([, m]) => isFusedQkvAttention(m)).map(([k]) => k);
  if (keys.length === 0) {
    const types = [...new Set([...model.namedModules().values()].map((m) => m.typeName))];
    throw new Error(`prefix tuning: no supported attention layer (GPT-2's fused c_attn attention) in this model; module types: ${types.join(", ")}`);
  }
  const hidden = (model.config as { nEmbd?: number } | undefined)?.nEmbd;
  if (!hidden) throw new Error("prefix tuning: the model config has no nEmbd");
  model.requiresGrad(false);
  for (const key of keys) model.setSubmodule(key, new PrefixAttention(model.getSubmodule(key) as FusedQkvAttention, P, hidden));
  return new TunedModel(model, "prefix tuning");
}
