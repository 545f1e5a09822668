/**
 * Training-memory estimator: pure arithmetic over a transformer's shape, no tensors. It counts
 * every parameter tensor the way lora-lab's (and Hugging Face's) models lay them out, then prices
 * weights, LoRA adapters, gradients, optimizer states and activations in bytes.
 *
 * Formulas (n = elements of a tensor, P = all parameters, A = adapter parameters, d = bytes of the
 * unquantized dtype: 4 for float32, 2 for 16-bit):
 * - weights: full / lora: P * d. qlora: the transformer layers' Linear / Conv1D weights in packed
 *   4-bit (ceil(n / 2) bytes) plus their constants, everything else (embeddings, norms, biases,
 *   an untied lm_head) at d. Constants per tensor with blocksize 64: 4 * ceil(n / 64) bytes
 *   (float32 absmax, 4.5 bits/param in all), or with double quantization ceil(n / 64) bytes of 8-bit
 *   absmax + 4 * ceil(ceil(n / 64) / 256) bytes of second-level absmax + 4 bytes of offset:
 *   4 + 8/64 + 32/(64 * 256) = 4.127 bits/param.
 * - adapters: r * (in + out) per targeted Linear (PEFT's lora_A [r, in] and lora_B [out, r]), at d.
 * - gradients: one per trainable parameter at d (full: P, lora / qlora: A).
 * - optimizer states (AdamW's exp_avg and exp_avg_sq): adamw and paged: 8 bytes per trainable
 *   parameter (32-bit states). adamw8bit: for tensors of at least 4096 elements (bitsandbytes'
 *   min_8bit_size) 2 * n bytes of 8-bit codes + 2 * 4 * ceil(n / 256) bytes of float32 block absmax
 *   (blocksize 256); smaller tensors keep 32-bit states (8 * n).
 *   paged: the states live in host memory (`hostOptimizerStates`); only the largest one tensor's
 *   states are counted on the device (`optimizerStates`), the page needed while it is updated.
 * - activations, per layer with s = seqLen, b = batchSize, h = hidden, a = heads (Korthikanti et
 *   al. 2022, "Reducing Activation Recomputation", eq. 1 with 2-byte activations:
 *   s*b*h*(34 + 5*a*s/h) bytes), scaled to d: s*b*(17*h + 2.5*a*s) * d. With gradient
 *   checkpointing only each layer's input is kept, s*b*h*d per layer, plus one layer's full set
 *   while it is recomputed. Plus float32 logits and their gradient: 2 * 4 * s*b*V. An
 *   encoder-decoder counts its decoder blocks as layers too. This is an estimate: the GPT layout
 *   with a 4h MLP; real peaks depend on the kernels.
 * - total: what must sit on the device at the peak: the sum of the above (paged: its one page).
 */

/** The shape fields the estimator needs; `family` fixes the module layout and names. */
export interface TransformerShape {
  family: "gpt2" | "llama" | "t5" | "bart";
  vocabSize: number;
  hiddenSize: number;
  /** Decoder blocks (gpt2, llama) or encoder blocks (t5, bart). */
  numLayers: number;
  intermediateSize: number;
  numHeads: number;
  /** gpt2, bart: learned position embeddings. Default 1024. */
  maxPositions?: number;
  /** t5, bart: decoder blocks; default numLayers. */
  numDecoderLayers?: number;
  /** t5: width of each head's q/k/v (d_kv). Default hiddenSize / numHeads. */
  headDim?: number;
  /** t5: relative attention buckets. Default 32. */
  relativeAttentionNumBuckets?: number;
  /** bart: the decoder's FFN width; default intermediateSize. */
  decoderIntermediateSize?: number;
  /** Whether lm_head shares the input embedding. gpt2, t5 and bart default true, llama false. */
  tieWordEmbeddings?: boolean;
}

/** Shapes of published checkpoints; LLaMA's from the LLaMA paper (Touvron et al. 2023, table 2). */
export const MEMORY_PRESETS: Record<string, TransformerShape> = {
  // lora-lab's byte-level GPT-2 presets (GPT2Config.preset("tiny" | "small")).
  "gpt2-tiny": { family: "gpt2", vocabSize: 256, hiddenSize: 128, numLayers: 4, intermediateSize: 512, numHeads: 4, maxPositions: 64 },
  "gpt2-small": { family: "gpt2", vocabSize: 256, hiddenSize: 256, numLayers: 6, intermediateSize: 1024, numHeads: 8, maxPositions: 128 },
  gpt2: { family: "gpt2", vocabSize: 50257, hiddenSize: 768, numLayers: 12, intermediateSize: 3072, numHeads: 12, maxPositions: 1024 },
  "t5-small": { family: "t5", vocabSize: 32128, hiddenSize: 512, numLayers: 6, intermediateSize: 2048, numHeads: 8, headDim: 64 },
  "bart-base": {
    family: "bart",
    vocabSize: 50265,
    hiddenSize: 768,
    numLayers: 6,
    intermediateSize: 3072,
    numHeads: 12,
    maxPositions: 1024,
  },
  "llama-7b": { family: "llama", vocabSize: 32000, hiddenSize: 4096, numLayers: 32, intermediateSize: 11008, numHeads: 32 },
  "llama-13b": { family: "llama", vocabSize: 32000, hiddenSize: 5120, numLayers: 40, intermediateSize: 13824, numHeads: 40 },
  "llama-33b": { family: "llama", vocabSize: 32000, hiddenSize: 6656, numLayers: 60, intermediateSize: 17920, numHeads: 52 },
  "llama-65b": { family: "llama", vocabSize: 32000, hiddenSize: 8192, numLayers: 80, intermediateSize: 22016, numHeads: 64 },
};

/** One parameter tensor; `linear` when it is a layer's Linear / Conv1D weight (LoRA / 4-bit target). */
export interface ShapeParameterTensor {
  name: string;
  numel: number;
  linear?: { inFeatures: number; outFeatures: number };
}

export interface EstimateMemoryOptions {
  /** A preset name (see MEMORY_PRESETS), a shape, or a GPT2Config / T5Config / BartConfig (their fields). */
  model: string | TransformerShape | Record<string, unknown>;
  method: "full" | "lora" | "qlora";
  /** LoRA rank. Default 8. */
  r?: number;
  /** PEFT's list rule (name == t or endsWith("." + t)) or "all-linear". Default: the family's PEFT default. */
  targetModules?: string[] | "all-linear";
  optimizer?: "adamw" | "adamw8bit" | "paged";
  batchSize?: number;
  seqLen?: number;
  gradientCheckpointing?: boolean;
  /** dtype of everything not 4-bit. Default "float32" (TensorFlow.js computes in float32). */
  dtype?: "float32" | "float16" | "bfloat16";
  /** qlora: double quantization of the absmax constants. Default true. */
  doubleQuant?: boolean;
}

export interface MemoryEstimate {
  parameters: number;
  trainableParameters: number;
  /** Bytes. */
  weights: number;
  adapters: number;
  gradients: number;
  /** On the device (paged: the largest single page). */
  optimizerStates: number;
  /** paged: all optimizer states, held in host memory; 0 otherwise. */
  hostOptimizerStates: number;
  activations: number;
  /** Device bytes at the peak: weights + adapters + gradients + optimizerStates + activations. */
  total: number;
}

const GPT2_DEFAULT_TARGETS = ["c_attn"];
const DEFAULT_TARGETS: Record<TransformerShape["family"], string[]> = {
  gpt2: GPT2_DEFAULT_TARGETS,
  llama: ["q_proj", "v_proj"],
  t5: ["q", "v"],
  bart: ["q_proj", "v_proj"],
};

/** Resolves a preset name or config fields (GPT2Config's nEmbd..., T5Config's dModel...) to a shape. */
export function memoryShape(model: EstimateMemoryOptions["model"]): TransformerShape {
  if (typeof model === "string") {
    const preset = MEMORY_PRESETS[model];
    if (!preset) throw new Error(`estimateMemory: unknown model preset "${model}"; available: ${Object.keys(MEMORY_PRESETS).join(", ")}`);
    return preset;
  }
  const m = model as Record<string, unknown>;
  if (typeof m.family === "string") return model as TransformerShape;
  const num = (k: string) => m[k] as number;
  // Before dModel: BartConfig has a dModel too.
  if (typeof m.encoderLayers === "number") {
    return {
      family: "bart",
      vocabSize: num("vocabSize"),
      hiddenSize: num("dModel"),
      numLayers: num("encoderLayers"),
      numDecoderLayers: num("decoderLayers"),
      intermediateSize: num("encoderFfnDim"),
      decoderIntermediateSize: num("decoderFfnDim"),
      numHeads: num("encoderAttentionHeads"),
      maxPositions: num("maxPositionEmbeddings"),
      tieWordEmbeddings: m.tieWordEmbeddings as boolean,
    };
  }
  if (typeof m.nEmbd === "number") {
    return {
      family: "gpt2",
      vocabSize: num("vocabSize"),
      hiddenSize: num("nEmbd"),
      numLayers: num("nLayer"),
      intermediateSize: (m.nInner as number | null) ?? 4 * num("nEmbd"),
      numHeads: num("nHead"),
      maxPositions: num("nPositions"),
      tieWordEmbeddings: m.tieWordEmbeddings as boolean,
    };
  }
  if (typeof m.dModel === "number") {
    return {
      family: "t5",
      vocabSize: num("vocabSize"),
      hiddenSize: num("dModel"),
      numLayers: num("numLayers"),
      numDecoderLayers: (m.numDecoderLayers as number | null) ?? num("numLayers"),
      intermediateSize: num("dFf"),
      numHeads: num("numHeads"),
      headDim: num("dKv"),
      relativeAttentionNumBuckets: num("relativeAttentionNumBuckets"),
      tieWordEmbeddings: m.tieWordEmbeddings as boolean,
    };
  }
  throw new Error(
    `estimateMemory: model must be a preset name (${Object.keys(MEMORY_PRESETS).join(", ")}), a TransformerShape with "family", or GPT2Config / T5Config / BartConfig fields; got keys ${Object.keys(m).join(", ")}`,
  );
}

/** Every parameter tensor of the shape, with Hugging Face's names (layer index 0 written as {i} once per layer). */
export function shapeParameterTensors(shape: TransformerShape): ShapeParameterTensor[] {
  const { vocabSize: V, hiddenSize: h, intermediateSize: f, numLayers: L } = shape;
  const out: ShapeParameterTensor[] = [];
  const lin = (name: string, i: number, o: number, bias: boolean) => {
    out.push({ name: `${name}.weight`, numel: i * o, linear: { inFeatures: i, outFeatures: o } });
    if (bias) out.push({ name: `${name}.bias`, numel: o });
  };
  const vec = (name: string, n: number) => out.push({ name, numel: n });
  if (shape.family === "gpt2") {
    vec("transformer.wte.weight", V * h);
    vec("transformer.wpe.weight", (shape.maxPositions ?? 1024) * h);
    for (let l = 0; l < L; l++) {
      const p = `transformer.h.${l}`;
      vec(`${p}.ln_1.weight`, h);
      vec(`${p}.ln_1.bias`, h);
      lin(`${p}.attn.c_attn`, h, 3 * h, true);
      lin(`${p}.attn.c_proj`, h, h, true);
      vec(`${p}.ln_2.weight`, h);
      vec(`${p}.ln_2.bias`, h);
      lin(`${p}.mlp.c_fc`, h, f, true);
      lin(`${p}.mlp.c_proj`, f, h, true);
    }
    vec("transformer.ln_f.weight", h);
    vec("transformer.ln_f.bias", h);
    if (shape.tieWordEmbeddings === false) vec("lm_head.weight", V * h);
  } else if (shape.family === "llama") {
    vec("model.embed_tokens.weight", V * h);
    for (let l = 0; l < L; l++) {
      const p = `model.layers.${l}`;
      vec(`${p}.input_layernorm.weight`, h);
      for (const n of ["q_proj", "k_proj", "v_proj", "o_proj"]) lin(`${p}.self_attn.${n}`, h, h, false);
      vec(`${p}.post_attention_layernorm.weight`, h);
      lin(`${p}.mlp.gate_proj`, h, f, false);
      lin(`${p}.mlp.up_proj`, h, f, false);
      lin(`${p}.mlp.down_proj`, f, h, false);
    }
    vec("model.norm.weight", h);
    if (shape.tieWordEmbeddings !== true) vec("lm_head.weight", V * h);
  } else if (shape.family === "bart") {
    const norm = (name: string) => {
      vec(`${name}.weight`, h);
      vec(`${name}.bias`, h);
    };
    const attention = (p: string) => ["k_proj", "v_proj", "q_proj", "out_proj"].forEach((n) => lin(`${p}.${n}`, h, h, true));
    vec("model.shared.weight", V * h);
    for (const [stack, blocks, ffn] of [
      ["encoder", L, f],
      ["decoder", shape.numDecoderLayers ?? L, shape.decoderIntermediateSize ?? f],
    ] as const) {
      vec(`model.${stack}.embed_positions.weight`, ((shape.maxPositions ?? 1024) + 2) * h); // BART's offset of 2 rows
      for (let l = 0; l < blocks; l++) {
        const p = `model.${stack}.layers.${l}`;
        attention(`${p}.self_attn`);
        norm(`${p}.self_attn_layer_norm`);
        if (stack === "decoder") {
          attention(`${p}.encoder_attn`);
          norm(`${p}.encoder_attn_layer_norm`);
        }
        lin(`${p}.fc1`, h, ffn, true);
        lin(`${p}.fc2`, ffn, h, true);
        norm(`${p}.final_layer_norm`);
      }
      norm(`model.${stack}.layernorm_embedding`);
    }
    if (shape.tieWordEmbeddings === false) vec("lm_head.weight", V * h);
  } else {
    const inner = (shape.headDim ?? h / shape.numHeads) * shape.numHeads;
    const buckets = shape.relativeAttentionNumBuckets ?? 32;
    const attention = (p: string, withBias: boolean) => {
      for (const n of ["q", "k", "v"]) lin(`${p}.${n}`, h, inner, false);
      lin(`${p}.o`, inner, h, false);
      if (withBias) vec(`${p}.relative_attention_bias.weight`, buckets * shape.numHeads);
    };
    vec("shared.weight", V * h);
    for (const [stack, blocks] of [
      ["encoder", L],
      ["decoder", shape.numDecoderLayers ?? L],
    ] as const) {
      for (let l = 0; l < blocks; l++) {
        const p = `${stack}.block.${l}.layer`;
        attention(`${p}.0.SelfAttention`, l === 0);
        vec(`${p}.0.layer_norm.weight`, h);
        const ff = stack === "encoder" ? 1 : 2;
        if (stack === "decoder") {
          attention(`${p}.1.EncDecAttention`, false);
          vec(`${p}.1.layer_norm.weight`, h);
        }
        lin(`${p}.${ff}.DenseReluDense.wi`, h, f, false);
        lin(`${p}.${ff}.DenseReluDense.wo`, f, h, false);
        vec(`${p}.${ff}.layer_norm.weight`, h);
      }
      vec(`${stack}.final_layer_norm.weight`, h);
    }
    if (shape.tieWordEmbeddings === false) vec("lm_head.weight", V * h);
  }
  return out;
}

/** PEFT's list rule on a weight's module name. */
function targeted(tensor: ShapeParameterTensor, targets: string[] | "all-linear"): boolean {
  if (!tensor.linear) return false;
  if (targets === "all-linear") return true;
  const module = tensor.name.slice(0, -".weight".length);
  return targets.some((t) => module === t || module.endsWith(`.${t}`));
}

/** Bytes of one tensor in packed 4-bit with blocksize 64 (see the file comment). */
export function fourBitStorageBytes(numel: number, doubleQuant = true): number {
  const blocks = Math.ceil(numel / 64);
  const constants = doubleQuant ? blocks + 4 * Math.ceil(blocks / 256) + 4 : 4 * blocks;
  return Math.ceil(numel / 2) + constants;
}

/** AdamW's two moments of one tensor in bitsandbytes' blockwise 8-bit layout (blocksize 256, min_8bit_size 4096). */
export function adamw8bitStateBytes(numel: number): number {
  return numel < 4096 ? 8 * numel : 2 * numel + 8 * Math.ceil(numel / 256);
}

const DTYPE_BYTES = { float32: 4, float16: 2, bfloat16: 2 } as const;

/** Bytes of weights, adapters, gradients, optimizer states and activations (formulas: the file comment). */
export function estimateMemory(opts: EstimateMemoryOptions): MemoryEstimate {
  const shape = memoryShape(opts.model);
  const { method } = opts;
  if (method !== "full" && method !== "lora" && method !== "qlora")
    throw new Error(`estimateMemory: method must be "full", "lora" or "qlora", got "${method}"`);
  const optimizer = opts.optimizer ?? "adamw";
  if (!["adamw", "adamw8bit", "paged"].includes(optimizer))
    throw new Error(`estimateMemory: optimizer must be "adamw", "adamw8bit" or "paged", got "${optimizer}"`);
  const d = DTYPE_BYTES[opts.dtype ?? "float32"];
  if (d === undefined) throw new Error(`estimateMemory: dtype must be one of ${Object.keys(DTYPE_BYTES).join(", ")}, got "${opts.dtype}"`);
  const r = opts.r ?? 8;
  if (!(Number.isInteger(r) && r > 0)) throw new Error(`estimateMemory: r must be a positive integer, got ${r}`);
  const b = opts.batchSize ?? 1;
  const s = opts.seqLen ?? shape.maxPositions ?? 512;
  const tensors = shapeParameterTensors(shape);
  const parameters = tensors.reduce((a, t) => a + t.numel, 0);

  let trainable: number[];
  let adapterParams = 0;
  let weights: number;
  if (method === "full") {
    trainable = tensors.map((t) => t.numel);
    weights = parameters * d;
  } else {
    const targets = opts.targetModules ?? DEFAULT_TARGETS[shape.family];
    const hits = tensors.filter((t) => targeted(t, targets));
    if (hits.length === 0) {
      const modules = [...new Set(tensors.filter((t) => t.linear).map((t) => t.name.split(".").slice(-2, -1)[0]))];
      throw new Error(
        `estimateMemory: targetModules ${JSON.stringify(targets)} match no Linear of this ${shape.family} shape; its Linear modules: ${modules.join(", ")}`,
      );
    }
    trainable = hits.flatMap((t) => [r * t.linear!.inFeatures, r * t.linear!.outFeatures]);
    adapterParams = trainable.reduce((a, n) => a + n, 0);
    weights =
      method === "lora"
        ? parameters * d
        : tensors.reduce((a, t) => a + (t.linear ? fourBitStorageBytes(t.numel, opts.doubleQuant ?? true) : t.numel * d), 0);
  }
  const trainableParameters = trainable.reduce((a, n) => a + n, 0);
  const gradients = trainableParameters * d;
  const stateBytes = trainable.map((n) => (optimizer === "adamw8bit" ? adamw8bitStateBytes(n) : 8 * n));
  const allStates = stateBytes.reduce((a, n) => a + n, 0);
  const optimizerStates = optimizer === "paged" ? Math.max(0, ...stateBytes) : allStates;
  const hostOptimizerStates = optimizer === "paged" ? allStates : 0;

  const encoderDecoder = shape.family === "t5" || shape.family === "bart";
  const layers = shape.numLayers + (encoderDecoder ? (shape.numDecoderLayers ?? shape.numLayers) : 0);
  const h = shape.hiddenSize;
  const perLayer = s * b * (17 * h + 2.5 * shape.numHeads * s) * d;
  const logits = 2 * 4 * s * b * shape.vocabSize;
  const activations = Math.round((opts.gradientCheckpointing ? layers * s * b * h * d + perLayer : layers * perLayer) + logits);

  const adapters = adapterParams * d;
  return {
    parameters: parameters + adapterParams,
    trainableParameters,
    weights,
    adapters,
    gradients,
    optimizerStates,
    hostOptimizerStates,
    activations,
    total: weights + adapters + gradients + optimizerStates + activations,
  };
}
