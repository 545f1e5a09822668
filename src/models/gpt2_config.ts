/** GPT-2 hyper-parameters under Hugging Face's config.json names (camelCase here, snake_case on disk). */
export interface GPT2ConfigFields {
  vocabSize: number;
  nPositions: number;
  nEmbd: number;
  nLayer: number;
  nHead: number;
  /** Width of the MLP; null means 4 * nEmbd. */
  nInner: number | null;
  activationFunction: string;
  residPdrop: number;
  embdPdrop: number;
  attnPdrop: number;
  layerNormEpsilon: number;
  initializerRange: number;
  scaleAttnWeights: boolean;
  scaleAttnByInverseLayerIdx: boolean;
  tieWordEmbeddings: boolean;
  bosTokenId: number | null;
  eosTokenId: number | null;
}

// Hugging Face's GPT2Config defaults (the 124M "gpt2" checkpoint).
const DEFAULTS: GPT2ConfigFields = {
  vocabSize: 50257,
  nPositions: 1024,
  nEmbd: 768,
  nLayer: 12,
  nHead: 12,
  nInner: null,
  activationFunction: "gelu_new",
  residPdrop: 0.1,
  embdPdrop: 0.1,
  attnPdrop: 0.1,
  layerNormEpsilon: 1e-5,
  initializerRange: 0.02,
  scaleAttnWeights: true,
  scaleAttnByInverseLayerIdx: false,
  tieWordEmbeddings: true,
  bosTokenId: 50256,
  eosTokenId: 50256,
};

// Small models train on little data for short runs in notebooks: dropout only slows them down.
const BYTE_MODEL = { vocabSize: 256, residPdrop: 0, embdPdrop: 0, attnPdrop: 0, bosTokenId: null, eosTokenId: null };

export const GPT2_PRESETS: Record<string, Partial<GPT2ConfigFields>> = {
  tiny: { ...BYTE_MODEL, nPositions: 64, nEmbd: 128, nLayer: 4, nHead: 4 },
  small: { ...BYTE_MODEL, nPositions: 128, nEmbd: 256, nLayer: 6, nHead: 8 },
  gpt2: {},
};

const SNAKE: Record<keyof GPT2ConfigFields, string> = {
  vocabSize: "vocab_size",
  nPositions: "n_positions",
  nEmbd: "n_embd",
  nLayer: "n_layer",
  nHead: "n_head",
  nInner: "n_inner",
  activationFunction: "activation_function",
  residPdrop: "resid_pdrop",
  embdPdrop: "embd_pdrop",
  attnPdrop: "attn_pdrop",
  layerNormEpsilon: "layer_norm_epsilon",
  initializerRange: "initializer_range",
  scaleAttnWeights: "scale_attn_weights",
  scaleAttnByInverseLayerIdx: "scale_attn_by_inverse_layer_idx",
  tieWordEmbeddings: "tie_word_embeddings",
  bosTokenId: "bos_token_id",
  eosTokenId: "eos_token_id",
};

function positiveInt(v: unknown, field: string): void {
  if (!Number.isInteger(v) || (v as number) <= 0) throw new Error(`GPT2Config.${field} must be a positive integer, got ${JSON.stringify(v)}`);
}

function probability(v: number, field: string): void {
  if (!(v >= 0 && v < 1)) throw new Error(`GPT2Config.${field} must be a probability in [0, 1), got ${v}`);
}

export class GPT2Config implements GPT2ConfigFields {
  readonly modelType = "gpt2";
  vocabSize!: number;
  nPositions!: number;
  nEmbd!: number;
  nLayer!: number;
  nHead!: number;
  nInner!: number | null;
  activationFunction!: string;
  residPdrop!: number;
  embdPdrop!: number;
  attnPdrop!: number;
  layerNormEpsilon!: number;
  initializerRange!: number;
  scaleAttnWeights!: boolean;
  scaleAttnByInverseLayerIdx!: boolean;
  tieWordEmbeddings!: boolean;
  bosTokenId!: number | null;
  eosTokenId!: number | null;

  constructor(fields: Partial<GPT2ConfigFields> = {}) {
    // modelType is accepted so that a config can be spread into a new one.
    const unknown = Object.keys(fields).filter((k) => !(k in SNAKE) && k !== "modelType");
    if (unknown.length) throw new Error(`GPT2Config: unknown field(s) ${unknown.join(", ")}; known: ${Object.keys(SNAKE).join(", ")}`);
    Object.assign(this, DEFAULTS, fields, { modelType: "gpt2" });
    for (const f of ["vocabSize", "nPositions", "nEmbd", "nLayer", "nHead"] as const) positiveInt(this[f], f);
    if (this.nInner !== null) positiveInt(this.nInner, "nInner");
    if (this.nEmbd % this.nHead !== 0) throw new Error(`GPT2Config: nEmbd (${this.nEmbd}) must be divisible by nHead (${this.nHead})`);
    for (const f of ["residPdrop", "embdPdrop", "attnPdrop"] as const) probability(this[f], f);
    if (!(this.layerNormEpsilon > 0)) throw new Error(`GPT2Config.layerNormEpsilon must be > 0, got ${this.layerNormEpsilon}`);
  }

  /** Width of the MLP's hidden layer. */
  get innerDim(): number {
    return this.nInner ?? 4 * this.nEmbd;
  }

  get headDim(): number {
    return this.nEmbd / this.nHead;
  }

  /** A named shape: "tiny" and "small" (byte vocabulary, fast on CPU) or "gpt2" (124M). */
  static preset(name: string, overrides: Partial<GPT2ConfigFields> = {}): GPT2Config {
    const preset = GPT2_PRESETS[name];
    if (!preset) throw new Error(`unknown GPT-2 preset "${name}"; available: ${Object.keys(GPT2_PRESETS).join(", ")}`);
    return new GPT2Config({ ...preset, ...overrides });
  }

  /** Reads Hugging Face's config.json fields; fields that GPT-2 does not use are ignored. */
  static fromJSON(json: Record<string, unknown>): GPT2Config {
    if (json.model_type !== undefined && json.model_type !== "gpt2") {
      throw new Error(`config.json has model_type "${String(json.model_type)}", expected "gpt2"`);
    }
    const fields: Partial<GPT2ConfigFields> = {};
    for (const [camel, snake] of Object.entries(SNAKE)) {
      if (json[snake] !== undefined) (fields as Record<string, unknown>)[camel] = json[snake];
    }
    return new GPT2Config(fields);
  }

  /** Hugging Face's config.json for this model. */
  toJSON(): Record<string, unknown> {
    const out: Record<string, unknown> = { architectures: ["GPT2LMHeadModel"], model_type: "gpt2" };
    for (const [camel, snake] of Object.entries(SNAKE)) out[snake] = (this as unknown as Record<string, unknown>)[camel];
    return out;
  }
}
