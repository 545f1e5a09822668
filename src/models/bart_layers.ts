import * as tf from "@tensorflow/tfjs";
import { fusedAttention, nextSeed, random } from "../engine/index.js";
import { Embedding, LayerNorm, Linear, Module, ModuleList, activation } from "../nn/index.js";
import type { BartConfig } from "./bart_config.js";
import { causalBiasAfter, type CacheSlot, type EncoderDecoderCache, type PastKeyValue } from "./kv_cache.js";

/** Functional dropout, as BART applies it (transformers' BART has no Dropout modules to name). */
function dropout(x: tf.Tensor, p: number, training: boolean): tf.Tensor {
  return training && p > 0 ? tf.dropout(x, p, undefined, nextSeed()) : x;
}

/**
 * BART's learned positions: position t reads row t + 2 of a table with maxPositionEmbeddings + 2
 * rows (fairseq reserved the first two for its padding scheme; checkpoints keep the layout).
 */
export class BartLearnedPositionalEmbedding extends Embedding {
  static readonly OFFSET = 2;

  constructor(
    readonly maxPositions: number,
    dim: number,
    initStd: number,
  ) {
    super(maxPositions + BartLearnedPositionalEmbedding.OFFSET, dim, { initStd });
  }

  /** The embeddings [T, D] of positions pastLength .. pastLength + T - 1 for ids [B, T]. */
  override forward(ids: tf.Tensor, pastLength = 0): tf.Tensor {
    const T = ids.shape[ids.rank - 1] as number;
    if (pastLength + T > this.maxPositions) {
      throw new Error(`sequence length ${pastLength + T} exceeds the model's ${this.maxPositions} positions (max_position_embeddings)`);
    }
    return tf.tidy(() => super.forward(tf.range(pastLength, pastLength + T, 1, "int32").add(BartLearnedPositionalEmbedding.OFFSET)));
  }
}

/** Multi-head attention with biases and 1/sqrt(head width) scaling (transformers' BartAttention). */
export class BartAttention extends Module {
  k_proj: Linear;
  v_proj: Linear;
  q_proj: Linear;
  out_proj: Linear;

  constructor(
    readonly embedDim: number,
    readonly numHeads: number,
    readonly attentionDropout: number,
    initStd: number,
    /** Queries see only keys at or before them (the decoder's self-attention). */
    readonly isCausal = false,
  ) {
    super();
    // transformers' registration order (k, v, q, out), hence the state-dict order.
    const proj = () => new Linear(embedDim, embedDim, { initStd });
    this.k_proj = this.registerModule("k_proj", proj());
    this.v_proj = this.registerModule("v_proj", proj());
    this.q_proj = this.registerModule("q_proj", proj());
    this.out_proj = this.registerModule("out_proj", proj());
  }

  /**
   * Attends from x [B, Tq, D] to itself, or to `keyValue` [B, Tk, D] (cross-attention). `bias`
   * is the padding mask as an additive [B, 1, 1, Tk] (or null); the causal mask is added here.
   * With a cache slot, self-attention appends its keys and values to the slot's (the queries are
   * the last Tq positions); cross-attention computes them from `keyValue` once and reuses them.
   */
  forward(x: tf.Tensor, bias: tf.Tensor | null, keyValue?: tf.Tensor, slot?: CacheSlot): tf.Tensor {
    return tf.tidy(() => {
      const { numHeads: H, embedDim: D } = this;
      const [B, Tq] = x.shape as [number, number, number];
      const source = keyValue ?? x;
      const hs = D / H;
      const scale = hs ** -0.5;
      const heads = (t: tf.Tensor) => t.reshape([B, -1, H, hs]).transpose([0, 2, 1, 3]); // [B, H, T, hs]
      const qs = this.q_proj.forward(x); // [B, Tq, D]
      const dropping = this.training && this.attentionDropout > 0;
      let kv: PastKeyValue;
      if (slot) {
        const reused = keyValue ? slot.cache.get(slot.layer) : undefined;
        kv = reused ?? slot.cache.update(slot.layer, heads(this.k_proj.forward(source)), heads(this.v_proj.forward(source))); // [B, H, Tk, hs]
      } else {
        const [ks, vs] = [this.k_proj.forward(source), this.v_proj.forward(source)]; // [B, Tk, D]
        // One fused kernel each way (wasm + native addon) when no attention dropout is applied.
        const fused = dropping ? undefined : fusedAttention(qs, ks, vs, H, { scale, causal: this.isCausal, bias: bias ?? undefined });
        if (fused) return this.out_proj.forward(fused);
        kv = { key: heads(ks), value: heads(vs) };
      }
      let scores = tf.matMul(heads(qs), kv.key, false, true).mul(scale); // [B, H, Tq, Tk]
      const causal = this.isCausal ? causalBiasAfter((kv.key.shape[2] as number) - Tq, Tq) : null;
      if (causal) scores = scores.add(causal);
      if (bias) scores = scores.add(bias);
      const att = dropout(tf.softmax(scores, -1), this.attentionDropout, this.training);
      const y = tf.matMul(att, kv.value).transpose([0, 2, 1, 3]).reshape([B, Tq, D]); // [B, Tq, D]
      return this.out_proj.forward(y);
    });
  }
}

/** LN(x + dropout(y)): BART's post-LayerNorm residual step. */
function addAndNorm(norm: LayerNorm, x: tf.Tensor, y: tf.Tensor, p: number, training: boolean): tf.Tensor {
  return norm.forward(x.add(dropout(y, p, training)));
}

/** What the encoder and decoder layers share: fc1 -> activation -> dropout -> fc2. */
interface FeedForwardLayer {
  fc1: Linear;
  fc2: Linear;
  readonly act: (x: tf.Tensor) => tf.Tensor;
  readonly config: BartConfig;
  training: boolean;
}

function feedForward(layer: FeedForwardLayer, x: tf.Tensor): tf.Tensor {
  return layer.fc2.forward(dropout(layer.act(layer.fc1.forward(x)), layer.config.activationDropout, layer.training));
}

/** Post-LayerNorm: h = LN(x + self_attn(x)), then LN(h + fc2(act(fc1(h)))) (transformers' BartEncoderLayer). */
export class BartEncoderLayer extends Module implements FeedForwardLayer {
  self_attn: BartAttention;
  self_attn_layer_norm: LayerNorm;
  fc1: Linear;
  fc2: Linear;
  final_layer_norm: LayerNorm;
  readonly act: (x: tf.Tensor) => tf.Tensor;

  constructor(readonly config: BartConfig) {
    super();
    const { dModel: D, encoderFfnDim: F, initStd } = config;
    this.self_attn = this.registerModule("self_attn", new BartAttention(D, config.encoderAttentionHeads, config.attentionDropout, initStd));
    this.self_attn_layer_norm = this.registerModule("self_attn_layer_norm", new LayerNorm(D));
    this.fc1 = this.registerModule("fc1", new Linear(D, F, { initStd }));
    this.fc2 = this.registerModule("fc2", new Linear(F, D, { initStd }));
    this.final_layer_norm = this.registerModule("final_layer_norm", new LayerNorm(D));
    this.act = activation(config.activationFunction);
  }

  forward(x: tf.Tensor, padding: tf.Tensor | null): tf.Tensor {
    return tf.tidy(() => {
      const [p, training] = [this.config.dropout, this.training];
      const h = addAndNorm(this.self_attn_layer_norm, x, this.self_attn.forward(x, padding), p, training);
      return addAndNorm(this.final_layer_norm, h, feedForward(this, h), p, training);
    });
  }
}

/** Post-LayerNorm decoder layer: causal self-attention, cross-attention to the encoder, feed-forward. */
export class BartDecoderLayer extends Module implements FeedForwardLayer {
  self_attn: BartAttention;
  self_attn_layer_norm: LayerNorm;
  encoder_attn: BartAttention;
  encoder_attn_layer_norm: LayerNorm;
  fc1: Linear;
  fc2: Linear;
  final_layer_norm: LayerNorm;
  readonly act: (x: tf.Tensor) => tf.Tensor;

  constructor(readonly config: BartConfig) {
    super();
    const { dModel: D, decoderFfnDim: F, decoderAttentionHeads: H, attentionDropout, initStd } = config;
    this.self_attn = this.registerModule("self_attn", new BartAttention(D, H, attentionDropout, initStd, true));
    this.self_attn_layer_norm = this.registerModule("self_attn_layer_norm", new LayerNorm(D));
    this.encoder_attn = this.registerModule("encoder_attn", new BartAttention(D, H, attentionDropout, initStd));
    this.encoder_attn_layer_norm = this.registerModule("encoder_attn_layer_norm", new LayerNorm(D));
    this.fc1 = this.registerModule("fc1", new Linear(D, F, { initStd }));
    this.fc2 = this.registerModule("fc2", new Linear(F, D, { initStd }));
    this.final_layer_norm = this.registerModule("final_layer_norm", new LayerNorm(D));
    this.act = activation(config.activationFunction);
  }

  /**
   * `padding`: the decoder's own padding bias over all its keys (cached and present) or null;
   * `crossPadding`: the encoder's. With `cache`, this layer (number `layer`) reads and grows its entries.
   */
  forward(
    x: tf.Tensor,
    padding: tf.Tensor | null,
    encoderHidden: tf.Tensor,
    crossPadding: tf.Tensor | null,
    cache?: { cache: EncoderDecoderCache; layer: number },
  ): tf.Tensor {
    return tf.tidy(() => {
      const [p, training] = [this.config.dropout, this.training];
      const slot = (part: "selfAttention" | "crossAttention") => cache && { cache: cache.cache[part], layer: cache.layer };
      let h = addAndNorm(this.self_attn_layer_norm, x, this.self_attn.forward(x, padding, undefined, slot("selfAttention")), p, training);
      const cross = this.encoder_attn.forward(h, crossPadding, encoderHidden, slot("crossAttention"));
      h = addAndNorm(this.encoder_attn_layer_norm, h, cross, p, training);
      return addAndNorm(this.final_layer_norm, h, feedForward(this, h), p, training);
    });
  }
}

/**
 * What BartEncoder and BartDecoder share: the token embedding (the model's `shared` module,
 * scaled by sqrt(dModel) when scaleEmbedding), learned positions, layernorm_embedding, the layers
 * and LayerDrop.
 */
abstract class BartStack<L extends Module> extends Module {
  readonly embed_tokens: Embedding;
  embed_positions: BartLearnedPositionalEmbedding;
  readonly layers: ModuleList<L>;
  layernorm_embedding: LayerNorm;

  constructor(
    readonly config: BartConfig,
    embedTokens: Embedding,
    layers: L[],
    private readonly layerdrop: number,
  ) {
    super();
    const { dModel: D, initStd } = config;
    // The same Embedding module as the model's `shared`, as in transformers: one parameter, three state-dict keys.
    this.embed_tokens = this.registerModule("embed_tokens", embedTokens);
    this.embed_positions = this.registerModule(
      "embed_positions",
      new BartLearnedPositionalEmbedding(config.maxPositionEmbeddings, D, initStd),
    );
    this.layers = this.registerModule("layers", new ModuleList<L>(layers));
    this.layernorm_embedding = this.registerModule("layernorm_embedding", new LayerNorm(D));
  }

  /** dropout(LN(embed_tokens(ids) * scale + positions)), [B, T, D], for ids after `pastLength` cached positions. */
  protected embed(ids: tf.Tensor2D, pastLength = 0): tf.Tensor {
    const scale = this.config.scaleEmbedding ? Math.sqrt(this.config.dModel) : 1;
    const tokens = this.embed_tokens.forward(ids); // [B, T, D]
    const x = (scale === 1 ? tokens : tokens.mul(scale)).add(this.embed_positions.forward(ids, pastLength)); // + [T, D]
    return dropout(this.layernorm_embedding.forward(x), this.config.dropout, this.training);
  }

  /** Indices of the layers that run this step: all of them, except those LayerDrop skips in training. */
  protected activeLayers(): number[] {
    const all = Array.from({ length: this.layers.length }, (_, i) => i);
    return this.training && this.layerdrop > 0 ? all.filter(() => random() >= this.layerdrop) : all;
  }
}

/** transformers' BartEncoder: bidirectional self-attention over the source. */
export class BartEncoder extends BartStack<BartEncoderLayer> {
  constructor(config: BartConfig, embedTokens: Embedding) {
    const layers = Array.from({ length: config.encoderLayers }, () => new BartEncoderLayer(config));
    super(config, embedTokens, layers, config.encoderLayerdrop);
  }

  /** Hidden states [B, S, D] for ids [B, S]; `padding` is the source's additive bias [B, 1, 1, S] or null. */
  forward(ids: tf.Tensor2D, padding: tf.Tensor | null): tf.Tensor {
    return tf.tidy(() => {
      let x = this.embed(ids);
      for (const i of this.activeLayers()) x = this.layers.at(i).forward(x, padding);
      return x;
    });
  }
}

/** transformers' BartDecoder: causal self-attention plus cross-attention to the encoder's output. */
export class BartDecoder extends BartStack<BartDecoderLayer> {
  constructor(config: BartConfig, embedTokens: Embedding) {
    const layers = Array.from({ length: config.decoderLayers }, () => new BartDecoderLayer(config));
    super(config, embedTokens, layers, config.decoderLayerdrop);
  }

  /**
   * Hidden states [B, T, D] for decoder ids [B, T], given the encoder's output [B, S, D] and the
   * padding biases; with `cache`, of T new positions after the cached ones.
   */
  forward(
    ids: tf.Tensor2D,
    padding: tf.Tensor | null,
    encoderHidden: tf.Tensor,
    crossPadding: tf.Tensor | null,
    cache?: EncoderDecoderCache,
  ): tf.Tensor {
    return tf.tidy(() => {
      const P = cache?.length ?? 0;
      let x = this.embed(ids, P);
      for (const layer of this.activeLayers()) {
        x = this.layers.at(layer).forward(x, padding, encoderHidden, crossPadding, cache && { cache, layer });
      }
      cache?.selfAttention.expectFilled(this.layers.length, P + ids.shape[1]);
      return x;
    });
  }
}
