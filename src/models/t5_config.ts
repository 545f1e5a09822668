import { ACTIVATIONS } from "../nn/index.js";
import { ConfigSchema, field, nullOr, positive, positiveInt, probability, type FieldsOf } from "../io/index.js";
import { PretrainedConfig } from "./config_base.js";

// Bidirectional buckets split in two halves, each half again into exact and logarithmic bins.
const atLeast4 = (v: number) => (Number.isInteger(v) && v >= 4 ? undefined : `must be an integer >= 4, got ${v}`);

/** T5's fields under Hugging Face's config.json names; defaults are T5Config's (the t5-small checkpoint). */
const T5_FIELDS = {
  vocabSize: field(32128, positiveInt),
  /** Width of the residual stream. */
  dModel: field(512, positiveInt),
  /** Width of one attention head's keys, queries and values (not necessarily dModel / numHeads). */
  dKv: field(64, positiveInt),
  /** Width of the feed-forward block. */
  dFf: field(2048, positiveInt),
  /** Encoder blocks. */
  numLayers: field(6, positiveInt),
  /** Decoder blocks; null means as many as the encoder. */
  numDecoderLayers: field<number | null>(null, nullOr(positiveInt)),
  numHeads: field(8, positiveInt),
  relativeAttentionNumBuckets: field(32, atLeast4),
  relativeAttentionMaxDistance: field(128, positiveInt),
  dropoutRate: field(0.1, probability),
  layerNormEpsilon: field(1e-6, positive),
  /** Scales every initialiser's std (1 in Hugging Face's checkpoints). */
  initializerFactor: field(1.0, positive),
  /** "relu" (T5), "gated-gelu" (T5 v1.1, flan-t5) or "[gated-]<activation>". */
  feedForwardProj: field("relu"),
  /** The LM head shares the token embedding's weight (and the decoder output is scaled by dModel^-0.5). */
  tieWordEmbeddings: field(true),
  padTokenId: field(0),
  eosTokenId: field(1),
  /** The first decoder input (T5 starts decoding from the pad token). */
  decoderStartTokenId: field(0),
};
export type T5ConfigFields = FieldsOf<typeof T5_FIELDS>;

export const T5_PRESETS: Record<string, Partial<T5ConfigFields>> = {
  // Byte vocabulary (ids 0 and 1 are control bytes no text uses, so they serve as pad and EOS);
  // no dropout, as small models on short runs only lose from it.
  tiny: {
    vocabSize: 256,
    dModel: 64,
    dKv: 16,
    dFf: 128,
    numLayers: 2,
    numHeads: 4,
    relativeAttentionNumBuckets: 16,
    relativeAttentionMaxDistance: 64,
    dropoutRate: 0,
  },
  "t5-small": {},
};

export interface T5Config extends T5ConfigFields {}

/** T5 hyper-parameters: presets "tiny" (byte vocabulary, fast on CPU) and "t5-small" (60,506,624 parameters). */
export class T5Config extends PretrainedConfig {
  static readonly schema = new ConfigSchema(T5_FIELDS, { owner: "T5Config", fixed: ["modelType"] });
  static readonly presets = T5_PRESETS;
  static readonly family = "T5";
  static readonly modelType = "t5";
  static readonly jsonHeader = { architectures: ["T5ForConditionalGeneration"], model_type: "t5", is_encoder_decoder: true };
  readonly modelType = "t5";

  constructor(fields: Partial<T5ConfigFields> = {}) {
    super();
    Object.assign(this, T5Config.schema.resolve(fields));
    const parts = String(this.feedForwardProj).split("-");
    if (parts.length > 2 || (parts.length === 2 && parts[0] !== "gated") || !(this.denseActFn in ACTIVATIONS)) {
      throw new Error(
        `T5Config.feedForwardProj "${this.feedForwardProj}" is not "<activation>" or "gated-<activation>"; ` +
          `activations: ${Object.keys(ACTIVATIONS).join(", ")}`,
      );
    }
    for (const f of ["padTokenId", "eosTokenId", "decoderStartTokenId"] as const) {
      const id = this[f];
      if (!Number.isInteger(id) || id < 0 || id >= this.vocabSize) {
        throw new Error(`T5Config.${f} must be a token id in [0, ${this.vocabSize}), got ${JSON.stringify(id)}`);
      }
    }
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
}
