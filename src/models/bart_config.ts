import { ACTIVATIONS } from "../nn/index.js";
import { ConfigSchema, field, nullOr, positiveInt, probability, type Check, type FieldsOf } from "../io/index.js";
import { PretrainedConfig } from "./config_base.js";

const tokenId: Check<number> = (v) => (Number.isInteger(v) && v >= 0 ? undefined : `must be a token id, got ${JSON.stringify(v)}`);

/**
 * BART's fields under transformers' config.json names; defaults are BartConfig's (the
 * facebook/bart-large shape, with BartConfig's own dropouts). Fields BART's classes do not read
 * here (classifier_dropout, use_cache, num_labels) are ignored on load.
 */
const BART_FIELDS = {
  vocabSize: field(50265, positiveInt),
  /** Learned positions; the table holds 2 more rows (BartLearnedPositionalEmbedding's offset). */
  maxPositionEmbeddings: field(1024, positiveInt),
  encoderLayers: field(12, positiveInt),
  /** Width of the encoder's fc1 / fc2. */
  encoderFfnDim: field(4096, positiveInt),
  encoderAttentionHeads: field(16, positiveInt),
  decoderLayers: field(12, positiveInt),
  decoderFfnDim: field(4096, positiveInt),
  decoderAttentionHeads: field(16, positiveInt),
  /** LayerDrop: in training, each encoder layer is skipped with this probability. */
  encoderLayerdrop: field(0, probability),
  decoderLayerdrop: field(0, probability),
  /** "gelu" is the exact (erf) GELU, as transformers' ACT2FN. */
  activationFunction: field("gelu"),
  /** Width of the residual stream. */
  dModel: field(1024, positiveInt),
  /** After the embeddings, attention and fc2 outputs. */
  dropout: field(0.1, probability),
  /** On the attention weights. */
  attentionDropout: field(0, probability),
  /** Between the activation and fc2. */
  activationDropout: field(0, probability),
  /** Std of the normal initialisers. */
  initStd: field(0.02),
  /** Multiply token embeddings by sqrt(dModel). */
  scaleEmbedding: field(false),
  /** The LM head shares `model.shared`'s weight. */
  tieWordEmbeddings: field(true),
  padTokenId: field(1, tokenId),
  bosTokenId: field(0, tokenId),
  eosTokenId: field(2, tokenId),
  /** The first decoder input (BART starts from the EOS token). */
  decoderStartTokenId: field(2, tokenId),
  /** generate: the first new token is forced to this (bart-base and bart-large set 0, the BOS). */
  forcedBosTokenId: field<number | null>(null, nullOr(tokenId)),
  /** generate: the last of maxNewTokens is forced to this (transformers' ForcedEOSTokenLogitsProcessor). */
  forcedEosTokenId: field<number | null>(2, nullOr(tokenId)),
};
export type BartConfigFields = FieldsOf<typeof BART_FIELDS>;

// Published shapes share these (each checkpoint's config.json).
const PUBLISHED = { dropout: 0.1, attentionDropout: 0.1, activationDropout: 0.1, forcedBosTokenId: 0 };

/** Published shapes; "tiny" is lora-lab's own. */
export const BART_PRESETS: Record<string, Partial<BartConfigFields>> = {
  // Byte vocabulary (ids 0, 1, 2 are control bytes no text uses, so BART's bos / pad / eos fit);
  // no dropout, as small models on short runs only lose from it.
  tiny: {
    vocabSize: 256,
    maxPositionEmbeddings: 256,
    dModel: 64,
    encoderLayers: 2,
    decoderLayers: 2,
    encoderAttentionHeads: 4,
    decoderAttentionHeads: 4,
    encoderFfnDim: 128,
    decoderFfnDim: 128,
    dropout: 0,
  },
  // facebook/bart-base: 139,420,416 parameters (tied head; final_logits_bias is a buffer).
  "bart-base": {
    ...PUBLISHED,
    dModel: 768,
    encoderLayers: 6,
    decoderLayers: 6,
    encoderAttentionHeads: 12,
    decoderAttentionHeads: 12,
    encoderFfnDim: 3072,
    decoderFfnDim: 3072,
  },
  // facebook/bart-large: 406,291,456 parameters.
  "bart-large": { ...PUBLISHED },
};

export interface BartConfig extends BartConfigFields {}

/** BART hyper-parameters (transformers' BartConfig): presets "tiny", "bart-base", "bart-large". */
export class BartConfig extends PretrainedConfig {
  static readonly schema = new ConfigSchema(BART_FIELDS, { owner: "BartConfig", fixed: ["modelType"] });
  static readonly presets = BART_PRESETS;
  static readonly family = "BART";
  static readonly modelType = "bart";
  static readonly jsonHeader = { architectures: ["BartForConditionalGeneration"], model_type: "bart", is_encoder_decoder: true };
  readonly modelType = "bart";

  constructor(fields: Partial<BartConfigFields> = {}) {
    super();
    Object.assign(this, BartConfig.schema.resolve(fields));
    for (const side of ["encoder", "decoder"] as const) {
      const heads = this[`${side}AttentionHeads`];
      if (this.dModel % heads !== 0)
        throw new Error(`BartConfig: dModel (${this.dModel}) must be divisible by ${side}AttentionHeads (${heads})`);
    }
    if (!(this.activationFunction in ACTIVATIONS)) {
      throw new Error(
        `BartConfig.activationFunction "${this.activationFunction}" is unknown; available: ${Object.keys(ACTIVATIONS).join(", ")}`,
      );
    }
    for (const f of ["padTokenId", "bosTokenId", "eosTokenId", "decoderStartTokenId", "forcedBosTokenId", "forcedEosTokenId"] as const) {
      const id = this[f];
      if (id !== null && id >= this.vocabSize) throw new Error(`BartConfig.${f} must be a token id in [0, ${this.vocabSize}), got ${id}`);
    }
  }

  /**
   * Reads config.json of model_type "bart"; keys BART does not use are ignored. Older files say
   * `force_bos_token_to_be_generated: true` instead of forced_bos_token_id, which then means the
   * BOS token, as transformers reads them.
   */
  static override fromJSON<C, F>(this: unknown, json: Record<string, unknown>): C {
    if (json.model_type !== undefined && json.model_type !== "bart") {
      throw new Error(`config.json has model_type "${String(json.model_type)}", expected "bart"`);
    }
    const fields = BartConfig.schema.readJSON(json);
    if ((fields.forcedBosTokenId ?? null) === null && json.force_bos_token_to_be_generated === true) {
      fields.forcedBosTokenId = fields.bosTokenId ?? BART_FIELDS.bosTokenId.default;
    }
    return new BartConfig(fields) as C;
  }
}
