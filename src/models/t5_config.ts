import { ACTIVATIONS } from "../nn/index.js";

/** T5 hyper-parameters under Hugging Face's config.json names (camelCase here, snake_case on disk). */
export interface T5ConfigFields {
  vocabSize: number;
  dModel: number;
  /** Width of one attention head's keys, queries and values (not necessarily dModel / numHeads). */
  dKv: number;
  dFf: number;
  /** Encoder blocks. */
  numLayers: number;
  /** Decoder blocks; null means as many as the encoder. */
  numDecoderLayers: number | null;
  numHeads: number;
  relativeAttentionNumBuckets: number;
  relativeAttentionMaxDistance: number;
  dropoutRate: number;
  layerNormEpsilon: number;
  /** Scales every initialiser's std (1 in Hugging Face's checkpoints). */
  initializerFactor: number;
  /** "relu" (T5), "gated-gelu" (T5 v1.1, flan-t5) or "[gated-]<activation>". */
  feedForwardProj: string;
  tieWordEmbeddings: boolean;
  padTokenId: number;
  eosTokenId: number;
  decoderStartTokenId: number;
}

// Hugging Face's T5Config defaults, which are the t5-small checkpoint.
const DEFAULTS: T5ConfigFields = {
  vocabSize: 32128,
  dModel: 512,
  dKv: 64,
  dFf: 2048,
  numLayers: 6,
  numDecoderLayers: null,
  numHeads: 8,
  relativeAttentionNumBuckets: 32,
  relativeAttentionMaxDistance: 128,
  dropoutRate: 0.1,
  layerNormEpsilon: 1e-6,
  initializerFactor: 1.0,
  feedForwardProj: "relu",
  tieWordEmbeddings: true,
  padTokenId: 0,
  eosTokenId: 1,
  decoderStartTokenId: 0,
};

export const T5_PRESETS: Record<string, Partial<T5ConfigFields>> = {
  // Byte vocabulary (ids 0 and 1 are control bytes no text uses, so they serve as pad and EOS);
  // no dropout, as small models on short runs only lose from it.
  tiny: {
    vocabSize: 256, dModel: 64, dKv: 16, dFf: 128, numLayers: 2, numHeads: 4,
    relativeAttentionNumBuckets: 16, relativeAttentionMaxDistance: 64, dropoutRate: 0,
  },
  "t5-small": {},
};

const SNAKE: Record<keyof T5ConfigFields, string> = {
  vocabSize: "vocab_size",
  dModel: "d_model",
  dKv: "d_kv",
  dFf: "d_ff",
  numLayers: "num_layers",
  numDecoderLayers: "num_decoder_layers",
  numHeads: "num_heads",
  relativeAttentionNumBuckets: "relative_attention_num_buckets",
  relativeAttentionMaxDistance: "relative_attention_max_distance",
  dropoutRate: "dropout_rate",
  layerNormEpsilon: "layer_norm_epsilon",
  initializerFactor: "initializer_factor",
  feedForwardProj: "feed_forward_proj",
  tieWordEmbeddings: "tie_word_embeddings",
  padTokenId: "pad_token_id",
  eosTokenId: "eos_token_id",
  decoderStartTokenId: "decoder_start_token_id",
};

function positiveInt(v: unknown, field: string): void {
  if (!Number.isInteger(v) || (v as number) <= 0) throw new Error(`T5Config.${field} must be a positive integer, got ${JSON.stringify(v)}`);
}

function tokenId(v: unknown, field: string, vocabSize: number): void {
  if (!Number.isInteger(v) || (v as number) < 0 || (v as number) >= vocabSize) {
    throw new Error(`T5Config.${field} must be a token id in [0, ${vocabSize}), got ${JSON.stringify(v)}`);
  }
}

export class T5Config implements T5ConfigFields {
  readonly modelType = "t5";
  vocabSize!: number;
  dModel!: number;
  dKv!: number;
  dFf!: number;
  numLayers!: number;
  numDecoderLayers!: number | null;
  numHeads!: number;
  relativeAttentionNumBuckets!: number;
  relativeAttentionMaxDistance!: number;
  dropoutRate!: number;
  layerNormEpsilon!: number;
  initializerFactor!: number;
  feedForwardProj!: string;
  tieWordEmbeddings!: boolean;
  padTokenId!: number;
  eosTokenId!: number;
  decoderStartTokenId!: number;

  constructor(fields: Partial<T5ConfigFields> = {}) {
    const unknown = Object.keys(fields).filter((k) => !(k in SNAKE) && k !== "modelType");
    if (unknown.length) throw new Error(`T5Config: unknown field(s) ${unknown.join(", ")}; known: ${Object.keys(SNAKE).join(", ")}`);
    Object.assign(this, DEFAULTS, fields, { modelType: "t5" });
    for (const f of ["vocabSize", "dModel", "dKv", "dFf", "numLayers", "numHeads", "relativeAttentionMaxDistance"] as const) positiveInt(this[f], f);
    if (this.numDecoderLayers !== null) positiveInt(this.numDecoderLayers, "numDecoderLayers");
    // Bidirectional buckets split in two halves, each half again into exact and logarithmic bins.
    if (!Number.isInteger(this.relativeAttentionNumBuckets) || this.relativeAttentionNumBuckets < 4) {
      throw new Error(`T5Config.relativeAttentionNumBuckets must be an integer >= 4, got ${this.relativeAttentionNumBuckets}`);
    }
    if (!(this.dropoutRate >= 0 && this.dropoutRate < 1)) throw new Error(`T5Config.dropoutRate must be a probability in [0, 1), got ${this.dropoutRate}`);
    if (!(this.layerNormEpsilon > 0)) throw new Error(`T5Config.layerNormEpsilon must be > 0, got ${this.layerNormEpsilon}`);
    if (!(this.initializerFactor > 0)) throw new Error(`T5Config.initializerFactor must be > 0, got ${this.initializerFactor}`);
    const parts = String(this.feedForwardProj).split("-");
    if (parts.length > 2 || (parts.length === 2 && parts[0] !== "gated") || !(this.denseActFn in ACTIVATIONS)) {
      throw new Error(
        `T5Config.feedForwardProj "${this.feedForwardProj}" is not "<activation>" or "gated-<activation>"; ` +
          `activations: ${Object.keys(ACTIVATIONS).join(", ")}`,
      );
    }
    for (const f of ["padTokenId", "eosTokenId", "decoderStartTokenId"] as const) tokenId(this[f], f, this.vocabSize);
  }

  /** Number of decoder blocks. */
  get decoderLayers(): number {
    return this.numDecoderLayers ?? this.numLayers;
  }

  /** Width of the concatenated heads, numHeads * dKv. */
  get innerDim(): number {
    return this.numHeads * this.dKv;
  }

  /** Whether the feed-forward block is gated (wi_0, wi_1) rather than plain (wi). */
  get isGatedAct(): boolean {
    return this.feedForwardProj.startsWith("gated-");
  }

  /** The feed-forward activation's name; "gated-gelu" means the tanh approximation, as in HF. */
  get denseActFn(): string {
    if (this.feedForwardProj === "gated-gelu") return "gelu_new";
    return this.feedForwardProj.split("-").at(-1) as string;
  }

  /** A named shape: "tiny" (byte vocabulary, fast on CPU) or "t5-small" (60,506,624 parameters). */
  static preset(name: string, overrides: Partial<T5ConfigFields> = {}): T5Config {
    const preset = T5_PRESETS[name];
    if (!preset) throw new Error(`unknown T5 preset "${name}"; available: ${Object.keys(T5_PRESETS).join(", ")}`);
    return new T5Config({ ...preset, ...overrides });
  }

  /** Reads Hugging Face's config.json fields; fields that T5 does not use are ignored. */
  static fromJSON(json: Record<string, unknown>): T5Config {
    if (json.model_type !== undefined && json.model_type !== "t5") {
      throw new Error(`config.json has model_type "${String(json.model_type)}", expected "t5"`);
    }
    const fields: Partial<T5ConfigFields> = {};
    for (const [camel, snake] of Object.entries(SNAKE)) {
      if (json[snake] !== undefined) (fields as Record<string, unknown>)[camel] = json[snake];
    }
    return new T5Config(fields);
  }

  /** Hugging Face's config.json for this model. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { architectures: ["T5ForConditionalGeneration"], model_type: "t5", is_encoder_decoder: true };
    for (const [camel, snake] of Object.entries(SNAKE)) out[snake] = (this as unknown as Record<string, unknown>)[camel];
    return out;
  }
}
