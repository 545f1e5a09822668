/**
 * Prefix tuning (Li & Liang 2021): every attention layer gets `numVirtualTokens` learned key and
 * value vectors that each query may attend to. PEFT feeds them as past_key_values, stored in one
 * [numVirtualTokens, numLayers * 2 * tokenDim] table; here each layer holds its
 * [numVirtualTokens, tokenDim] keys and values (the same count) and hands them to the attention as
 * past keys and values, the path a KV cache takes too. tokenDim is the width of the layer's keys:
 * GPT-2's n_embd; with grouped-query attention (LLaMA, Qwen2, Mistral) num_key_value_heads *
 * head_dim, as PEFT's _prepare_prompt_learning_config sets token_dim and num_attention_heads from
 * num_key_value_heads.
 */
import * as tf from "@tensorflow/tfjs";
import { init, Module, type Parameter } from "../../nn/index.js";

/** What prefix tuning needs of GPT-2's fused-QKV attention, which takes past keys and values. */
export interface AttentionWithPast extends Module {
  config: { nHead: number };
  c_attn: Module;
  c_proj: Module;
  attn_dropout: Module;
  /** `past.key` and `past.value` are [B, nh, P, hs]; `ctx` (the KV cache, padding) is the block's, passed on. */
  forward(x: tf.Tensor, past?: { key: tf.Tensor; value: tf.Tensor }, ctx?: unknown): tf.Tensor;
}

/** The keys and values of earlier positions, as the LLaMA family's attention reads and grows them (models' DynamicCache). */
export interface PastKeyValueCache {
  lengthOf(layer: number): number;
  /** Appends [B, nkv, T, hs] keys and values to layer `layer`'s and returns all of them. */
  update(layer: number, key: tf.Tensor, value: tf.Tensor): { key: tf.Tensor; value: tf.Tensor };
}

/** What a grouped-query attention (LLaMA's q/k/v/o_proj) receives from its block: padding [B, 1, 1, K] and the KV cache. */
interface GroupedAttentionContext {
  padding: tf.Tensor | null;
  cache: PastKeyValueCache | null;
}

/** What prefix tuning needs of the LLaMA family's grouped-query attention, which reads past keys from the context's cache. */
export interface GroupedQueryAttention extends Module {
  config: { numKeyValueHeads: number; headDim: number };
  layerIdx: number;
  q_proj: Module;
  k_proj: Module;
  v_proj: Module;
  o_proj: Module;
  forward(x: tf.Tensor, ctx: GroupedAttentionContext): tf.Tensor;
}

export function isAttentionWithPast(m: Module): m is AttentionWithPast {
  const a = m as unknown as Partial<AttentionWithPast>;
  return (
    a.c_attn instanceof Module && a.c_proj instanceof Module && a.attn_dropout instanceof Module && typeof a.config?.nHead === "number"
  );
}

export function isGroupedQueryAttention(m: Module): m is GroupedQueryAttention {
  const a = m as unknown as Partial<GroupedQueryAttention>;
  return (
    [a.q_proj, a.k_proj, a.v_proj, a.o_proj].every((p) => p instanceof Module) &&
    typeof a.layerIdx === "number" &&
    typeof a.config?.numKeyValueHeads === "number" &&
    typeof a.config?.headDim === "number"
  );
}

/** The learned prefixes of one attention layer, and the switch back to its base; subclasses feed them to their kind of attention. */
abstract class PrefixedAttention<A extends Module> extends Module {
  readonly base_layer: A;
  readonly prefix_key: Parameter;
  readonly prefix_value: Parameter;
  disableAdapters = false;

  constructor(
    base: A,
    readonly numVirtualTokens: number,
    tokenDim: number,
    /** Key / value heads the prefix is split into. */
    private readonly heads: number,
  ) {
    super();
    this.base_layer = this.registerModule("base_layer", base);
    // PEFT's PrefixEncoder is an nn.Embedding: N(0, 1) at init.
    const k = init.normal([numVirtualTokens, tokenDim], 1);
    const v = init.normal([numVirtualTokens, tokenDim], 1);
    this.prefix_key = this.registerParameter("prefix_key", k);
    this.prefix_value = this.registerParameter("prefix_value", v);
    tf.dispose([k, v]);
  }

  /** The prefix keys and values as past keys and values of a batch of B, [B, heads, P, hs] each. */
  protected past(B: number): { key: tf.Tensor; value: tf.Tensor } {
    const P = this.numVirtualTokens;
    const split = (p: Parameter) => {
      const hs = (p.shape[1] as number) / this.heads;
      return tf.tile(p.variable.reshape([1, P, this.heads, hs]).transpose([0, 2, 1, 3]), [B, 1, 1, 1]);
    };
    return { key: split(this.prefix_key), value: split(this.prefix_value) };
  }
}

/** GPT-2 attention with learned key/value prefixes; `base_layer` keeps the original attention. */
export class PrefixAttention extends PrefixedAttention<AttentionWithPast> {
  constructor(base: AttentionWithPast, numVirtualTokens: number, hidden: number) {
    super(base, numVirtualTokens, hidden, base.config.nHead);
  }

  forward(x: tf.Tensor, _past?: unknown, ctx?: unknown): tf.Tensor {
    if (this.disableAdapters) return this.base_layer.forward(x, undefined, ctx);
    return tf.tidy(() => this.base_layer.forward(x, this.past(x.shape[0]), ctx));
  }
}

/**
 * Grouped-query attention (LLaMA, Qwen2, Mistral) with learned key/value prefixes, one per key /
 * value head. The prefix goes in front of the cached keys through a cache view, so the attention
 * runs unchanged: every query sees the prefix (the causal mask starts after the past positions)
 * and the model's own cache still holds only real positions. The prefix keys are not rotated (PEFT
 * hands them over as past keys, already "rotated"); the queries keep positions 0..T-1 where
 * transformers would number them after the prefix, which only turns the learned keys by a fixed
 * rotation: the same family of models.
 */
export class PrefixGroupedAttention extends PrefixedAttention<GroupedQueryAttention> {
  constructor(base: GroupedQueryAttention, numVirtualTokens: number) {
    const { numKeyValueHeads: nkv, headDim } = base.config;
    super(base, numVirtualTokens, nkv * headDim, nkv);
  }

  forward(x: tf.Tensor, ctx: GroupedAttentionContext): tf.Tensor {
    if (this.disableAdapters) return this.base_layer.forward(x, ctx);
    return tf.tidy(() => {
      const B = x.shape[0];
      const P = this.numVirtualTokens;
      const prefix = this.past(B);
      const outer = ctx.cache;
      const cache: PastKeyValueCache = {
        lengthOf: (layer) => P + (outer?.lengthOf(layer) ?? 0),
        update: (layer, key, value) => {
          const kv = outer ? outer.update(layer, key, value) : { key, value };
          return { key: tf.concat([prefix.key, kv.key], 2), value: tf.concat([prefix.value, kv.value], 2) };
        },
      };
      // The padding covers the model's keys; the prefix is never padding.
      const padding = ctx.padding && tf.concat([tf.zeros([B, 1, 1, P]), ctx.padding], 3);
      return this.base_layer.forward(x, { ...ctx, padding, cache });
    });
  }
}
