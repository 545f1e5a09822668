import { ConfigSchema, field, nullOr, positive, positiveInt, probability, type FieldsOf } from "../io/index.js";
import { PretrainedConfig } from "./config_base.js";

/** GPT-2's fields under Hugging Face's config.json names; defaults are GPT2Config's (the 124M "gpt2"). */
const GPT2_FIELDS = {
  /** Tokens in the vocabulary. */
  vocabSize: field(50257, positiveInt),
  /** Longest sequence (learned position embeddings). */
  nPositions: field(1024, positiveInt),
  /** Width of the residual stream. */
  nEmbd: field(768, positiveInt),
  /** Transformer blocks. */
  nLayer: field(12, positiveInt),
  /** Attention heads per block. */
  nHead: field(12, positiveInt),
  /** Width of the MLP; null means 4 * nEmbd. */
  nInner: field<number | null>(null, nullOr(positiveInt)),
  activationFunction: field("gelu_new"),
  residPdrop: field(0.1, probability),
  embdPdrop: field(0.1, probability),
  attnPdrop: field(0.1, probability),
  layerNormEpsilon: field(1e-5, positive),
  /** Std of the normal initialisers. */
  initializerRange: field(0.02),
  /** Divide attention scores by sqrt(head width). */
  scaleAttnWeights: field(true),
  /** Also divide them by (layer index + 1). */
  scaleAttnByInverseLayerIdx: field(false),
  /** The LM head shares the token embedding's weight. */
  tieWordEmbeddings: field(true),
  bosTokenId: field<number | null>(50256),
  eosTokenId: field<number | null>(50256),
};
export type GPT2ConfigFields = FieldsOf<typeof GPT2_FIELDS>;

// Small models train on little data for short runs in notebooks: dropout only slows them down.
const BYTE_MODEL = { vocabSize: 256, residPdrop: 0, embdPdrop: 0, attnPdrop: 0, bosTokenId: null, eosTokenId: null };

export const GPT2_PRESETS: Record<string, Partial<GPT2ConfigFields>> = {
  tiny: { ...BYTE_MODEL, nPositions: 64, nEmbd: 128, nLayer: 4, nHead: 4 },
  small: { ...BYTE_MODEL, nPositions: 128, nEmbd: 256, nLayer: 6, nHead: 8 },
  gpt2: {},
  // transformers' gpt2-medium config.json: 355M parameters.
  "gpt2-medium": { nEmbd: 1024, nLayer: 24, nHead: 16 },
  // The teaching base: GPT-2's 12 blocks (the article's layer plans apply as written) at 6.1M parameters, with a
  // BPE vocabulary trained on its pretraining text whose last id is <|endoftext|>; about 0.4 s a step at 8 x 128 on two cores.
  "teach-12l": {
    vocabSize: 4096,
    nPositions: 128,
    nEmbd: 192,
    nLayer: 12,
    nHead: 3,
    residPdrop: 0,
    embdPdrop: 0,
    attnPdrop: 0,
    bosTokenId: 4095,
    eosTokenId: 4095,
  },
};

export interface GPT2Config extends GPT2ConfigFields {}

/** GPT-2 hyper-parameters: presets "tiny" and "small" (byte vocabulary, fast on CPU), "teach-12l" (12 layers, BPE), "gpt2" (124M) and "gpt2-medium" (355M). */
export class GPT2Config extends PretrainedConfig {
  static readonly schema = new ConfigSchema(GPT2_FIELDS, { owner: "GPT2Config", fixed: ["modelType"] });
  static readonly presets = GPT2_PRESETS;
  static readonly family = "GPT-2";
  static readonly modelType = "gpt2";
  static readonly jsonHeader = { architectures: ["GPT2LMHeadModel"], model_type: "gpt2" };
  readonly modelType = "gpt2";

  constructor(fields: Partial<GPT2ConfigFields> = {}) {
    super();
    Object.assign(this, GPT2Config.schema.resolve(fields));
    if (this.nEmbd % this.nHead !== 0) throw new Error(`GPT2Config: nEmbd (${this.nEmbd}) must be divisible by nHead (${this.nHead})`);
  }

  /** Width of the MLP's hidden layer. */
  get innerDim(): number {
    return this.nInner ?? 4 * this.nEmbd;
  }

  get headDim(): number {
    return this.nEmbd / this.nHead;
  }
}
