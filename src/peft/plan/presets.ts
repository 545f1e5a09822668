/**
 * The article's plans, scaled to any depth. GPT example: embeddings frozen; lower half frozen;
 * middle quarter LoRA r 8, alpha 16 on Q and V; upper quarter LoRA r 16, alpha 32; LM head
 * trainable (the upper ends of the article's r 4-8 and 8-16 ranges; pass other values to change).
 */
import { DEFAULT_LORA_TARGET_MODULES } from "../lora/config.js";
import type { InjectableModel } from "../tuned_model.js";
import { countLayers, type LayerPlan } from "./plan.js";

const range = (from: number, to: number) => Array.from({ length: Math.max(0, to - from) }, (_, i) => from + i);

export interface ArticlePlanOptions {
  middle?: { r: number; loraAlpha: number };
  upper?: { r: number; loraAlpha: number };
  /**
   * GPT-2 only: true puts one LoRA over the whole fused c_attn (PEFT's form, savable for Python
   * PEFT); the default, false, puts it on the Q and V column blocks only, as the article says.
   */
  peftCompatible?: boolean;
}

function targetsFor(model: InjectableModel): string[] {
  const type = model.config?.modelType ?? "";
  const t = DEFAULT_LORA_TARGET_MODULES[type];
  if (!t)
    throw new Error(
      `articlePlan: no Q/V module names known for model_type "${type}"; known: ${Object.keys(DEFAULT_LORA_TARGET_MODULES).join(", ")}`,
    );
  return t;
}

/** The article's GPT plan for a decoder-only model of any depth (layers split 1/2, 1/4, 1/4). */
export function articlePlan(model: InjectableModel, opts: ArticlePlanOptions = {}): LayerPlan {
  const L = countLayers(model);
  const targetModules = targetsFor(model);
  const fused = model.config?.modelType === "gpt2";
  const mid = Math.floor(L / 2);
  const up = Math.floor((3 * L) / 4);
  const middle = opts.middle ?? { r: 8, loraAlpha: 16 };
  const upper = opts.upper ?? { r: 16, loraAlpha: 32 };
  const plan: LayerPlan = {
    name: "article (GPT)",
    embeddings: "frozen",
    head: "full",
    groups: [
      { name: "lower", layers: range(0, mid), role: "frozen" },
      { name: "middle", layers: range(mid, up), role: "lora", targetModules, ...middle },
      { name: "upper", layers: range(up, L), role: "lora", targetModules, ...upper },
    ],
  };
  if (fused && !opts.peftCompatible) plan.fusedQkv = ["q", "v"];
  return plan;
}

export interface EncoderDecoderPlanOptions {
  r?: number;
  loraAlpha?: number;
  /** Encoder self-attention is the article's optional last priority. Default false. */
  includeEncoder?: boolean;
  /** Cross-attention comes second. Default true. */
  includeCrossAttention?: boolean;
}

/** Where an encoder-decoder family keeps its stacks, and the Q and V projections of its two kinds of attention. */
export interface EncoderDecoderLayout {
  /** Name prefixes of the two stacks. */
  encoder: string;
  decoder: string;
  /** PEFT target suffixes of Q and V in self-attention (encoder and decoder) and in cross-attention. */
  selfAttention: string[];
  crossAttention: string[];
}

/** The encoder-decoder families by model_type: the one table encoderDecoderPlan reads. */
export const ENCODER_DECODER_LAYOUTS: Record<string, EncoderDecoderLayout> = {
  t5: {
    encoder: "encoder.",
    decoder: "decoder.",
    selfAttention: ["SelfAttention.q", "SelfAttention.v"],
    crossAttention: ["EncDecAttention.q", "EncDecAttention.v"],
  },
  bart: {
    encoder: "model.encoder.",
    decoder: "model.decoder.",
    selfAttention: ["self_attn.q_proj", "self_attn.v_proj"],
    crossAttention: ["encoder_attn.q_proj", "encoder_attn.v_proj"],
  },
};

function layoutOf(model: InjectableModel): EncoderDecoderLayout {
  const type = model.config?.modelType ?? "";
  const layout = ENCODER_DECODER_LAYOUTS[type];
  if (!layout) {
    throw new Error(
      `encoderDecoderPlan: model_type "${type}" is not an encoder-decoder family lora-lab knows; known: ${Object.keys(ENCODER_DECODER_LAYOUTS).join(", ")}`,
    );
  }
  return layout;
}

/**
 * The article's priority order for encoder-decoder models (T5, BART): decoder self-attention,
 * then cross-attention, then (optionally) encoder self-attention, LoRA on Q and V everywhere.
 */
export function encoderDecoderPlan(model: InjectableModel, opts: EncoderDecoderPlanOptions = {}): LayerPlan {
  const r = opts.r ?? 8;
  const loraAlpha = opts.loraAlpha ?? 2 * r;
  const layout = layoutOf(model);
  const dec = range(0, countLayers(model, layout.decoder));
  const plan: LayerPlan = {
    name: "article (encoder-decoder)",
    embeddings: "frozen",
    head: "frozen",
    groups: [
      {
        name: "decoder self-attention",
        module: "self-attention",
        within: layout.decoder,
        layers: dec,
        role: "lora",
        r,
        loraAlpha,
        targetModules: layout.selfAttention,
      },
    ],
  };
  if (opts.includeCrossAttention ?? true) {
    plan.groups.push({
      name: "cross-attention",
      module: "cross-attention",
      within: layout.decoder,
      layers: dec,
      role: "lora",
      r,
      loraAlpha,
      targetModules: layout.crossAttention,
    });
  }
  const enc = range(0, countLayers(model, layout.encoder));
  plan.groups.push(
    opts.includeEncoder
      ? {
          name: "encoder self-attention",
          module: "self-attention",
          within: layout.encoder,
          layers: enc,
          role: "lora",
          r,
          loraAlpha,
          targetModules: layout.selfAttention,
        }
      : { name: "encoder", within: layout.encoder, layers: enc, role: "frozen" },
  );
  return plan;
}
