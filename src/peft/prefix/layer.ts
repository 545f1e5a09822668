/**
 * Prefix tuning (Li & Liang 2021): every attention layer gets `numVirtualTokens` learned key and
 * value vectors that each query may attend to. PEFT feeds them as past_key_values, stored in one
 * [numVirtualTokens, numLayers * 2 * hidden] table; here each layer holds its
 * [numVirtualTokens, hidden] keys and values (the same count) and hands them to GPT-2's attention
 * as its past keys and values, the path a KV cache takes too.
 */
import * as tf from "@tensorflow/tfjs";
import { init, Module, type Parameter } from "../../nn/index.js";

/** What prefix tuning needs of an attention module: GPT-2's fused-QKV attention, which takes past keys and values. */
export interface AttentionWithPast extends Module {
  config: { nHead: number };
  c_attn: Module;
  c_proj: Module;
  attn_dropout: Module;
  /** `past.key` and `past.value` are [B, nh, P, hs]; `ctx` (the KV cache, padding) is the block's, passed on. */
  forward(x: tf.Tensor, past?: { key: tf.Tensor; value: tf.Tensor }, ctx?: unknown): tf.Tensor;
}

export function isAttentionWithPast(m: Module): m is AttentionWithPast {
  const a = m as unknown as Partial<AttentionWithPast>;
  return (
    a.c_attn instanceof Module && a.c_proj instanceof Module && a.attn_dropout instanceof Module && typeof a.config?.nHead === "number"
  );
}

/** GPT-2 attention with learned key/value prefixes; `base_layer` keeps the original attention. */
export class PrefixAttention extends Module {
  readonly base_layer: AttentionWithPast;
  readonly prefix_key: Parameter;
  readonly prefix_value: Parameter;
  disableAdapters = false;

  constructor(
    base: AttentionWithPast,
    readonly numVirtualTokens: number,
    hidden: number,
  ) {
    super();
    this.base_layer = this.registerModule("base_layer", base);
    // PEFT's PrefixEncoder is an nn.Embedding: N(0, 1) at init.
    const k = init.normal([numVirtualTokens, hidden], 1);
    const v = init.normal([numVirtualTokens, hidden], 1);
    this.prefix_key = this.registerParameter("prefix_key", k);
    this.prefix_value = this.registerParameter("prefix_value", v);
    tf.dispose([k, v]);
  }

  forward(x: tf.Tensor, _past?: unknown, ctx?: unknown): tf.Tensor {
    if (this.disableAdapters) return this.base_layer.forward(x, undefined, ctx);
    return tf.tidy(() => {
      const B = x.shape[0];
      const nh = this.base_layer.config.nHead;
      const P = this.numVirtualTokens;
      const heads = (p: Parameter) => {
        const hs = (p.shape[1] as number) / nh;
        return tf.tile(p.variable.reshape([1, P, nh, hs]).transpose([0, 2, 1, 3]), [B, 1, 1, 1]); // [B, nh, P, hs]
      };
      return this.base_layer.forward(x, { key: heads(this.prefix_key), value: heads(this.prefix_value) }, ctx);
    });
  }
}
