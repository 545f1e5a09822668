/**
 * The benchmark rows of issue 11: one training step (forward, backward, AdamW) at B=8 of
 * - the tiny and the small GPT-2: full fine-tuning, LoRA r8 on the upper half's c_attn, and QLoRA
 *   (the same LoRA over an NF4 base: every Conv1D quantized as lora-lab's QLoRA strategy does,
 *   blocksize 64 with double quantization; the tied embedding / LM head stays float32);
 * - the tiny T5 (T5_PRESETS.tiny, source and target 64 tokens): full, and LoRA r8 on q and v of
 *   every attention (encoder, decoder, cross), PEFT's default T5 targets.
 * And the real-scale rows of issue 18 (REAL_SCALE_ROWS, `--real-scale`): the same three GPT-2
 * modes on the 124M shape (`GPT2Config.preset("gpt2")`, dropout off as in the toy rows) at
 * batch 4 x 128, full fine-tuning with gradient checkpointing per block (without it the step does
 * not fit the wasm heap: src/train/memory_plan.ts), LoRA / QLoRA in the article's configuration
 * (r8 on c_attn of blocks 6..11); and issue 20's LLaMA row: the SmolLM2-135M shape
 * (`LlamaConfig.preset("smollm2-135m")`, random weights) with LoRA r8 on q_proj, v_proj of every layer.
 * bench/torch_step.py builds the same models and steps for the PyTorch reference.
 */
import * as tf from "@tensorflow/tfjs";
import { seed } from "../src/engine/index.js";
import { GPT2Config, LlamaConfig, T5Config, gpt2, llama, t5 } from "../src/models/index.js";
import { setGradientCheckpointing, type Module } from "../src/nn/index.js";
import { AdamW } from "../src/optim/index.js";
import { getPeftModel } from "../src/peft/index.js";
import { quantizeModel } from "../src/quant/index.js";
import { MemoryPlanError, memoryPlan, planAlternatives, type MemoryPlan } from "../src/train/index.js";

export type Arch = "gpt2" | "t5" | "llama";
/** A GPT-2 preset (its shape in SHAPES). */
export type ModelSize = "tiny" | "small" | "gpt2";
/** A LLaMA preset (LlamaConfig.preset) of a row of arch "llama". */
export type LlamaSize = "smollm2-135m";
export type Mode = "full" | "lora" | "qlora";

export interface Row {
  id: string;
  label: string;
  arch: Arch;
  size: ModelSize | LlamaSize;
  mode: Mode;
  /** Batch and sequence length, when the row fixes them (the real-scale rows); else the bench's BATCH and the model's nPositions. */
  batch?: number;
  seq?: number;
  /** Gradient checkpointing per block, on both sides (lab.setGradientCheckpointing; torch.utils.checkpoint). */
  checkpointing?: boolean;
}

export const ROWS: Row[] = [
  { id: "tiny-full", label: "tiny GPT (V256 T64 d128 L4 H4), full", arch: "gpt2", size: "tiny", mode: "full" },
  { id: "tiny-lora", label: "tiny GPT, LoRA r8 upper-half c_attn", arch: "gpt2", size: "tiny", mode: "lora" },
  { id: "tiny-qlora", label: "tiny GPT, QLoRA (NF4 base) r8 upper-half c_attn", arch: "gpt2", size: "tiny", mode: "qlora" },
  { id: "small-full", label: "small GPT (V2048 T128 d256 L6 H8), full", arch: "gpt2", size: "small", mode: "full" },
  { id: "small-lora", label: "small GPT, LoRA r8 upper-half c_attn", arch: "gpt2", size: "small", mode: "lora" },
  { id: "small-qlora", label: "small GPT, QLoRA (NF4 base) r8 upper-half c_attn", arch: "gpt2", size: "small", mode: "qlora" },
  { id: "t5-tiny-full", label: "tiny T5 (V256 S64 T64 d64 L2+2 H4 ff128), full", arch: "t5", size: "tiny", mode: "full" },
  { id: "t5-tiny-lora", label: "tiny T5, LoRA r8 q,v", arch: "t5", size: "tiny", mode: "lora" },
];

/** Issue 18's rows: GPT-2 124M at batch 4 x 128, and issue 20's SmolLM2-135M LoRA row (`--real-scale`; one model at a time, they are large). */
export const REAL_SCALE_ROWS: Row[] = [
  {
    id: "gpt2-124m-full",
    label: "gpt2-124m full, gradient checkpointing",
    arch: "gpt2",
    size: "gpt2",
    mode: "full",
    batch: 4,
    seq: 128,
    checkpointing: true,
  },
  {
    id: "gpt2-124m-lora",
    label: "gpt2-124m LoRA (article config: r8 c_attn, blocks 6-11)",
    arch: "gpt2",
    size: "gpt2",
    mode: "lora",
    batch: 4,
    seq: 128,
  },
  {
    id: "gpt2-124m-qlora",
    label: "gpt2-124m QLoRA (NF4 + double quant base, r8 c_attn, blocks 6-11)",
    arch: "gpt2",
    size: "gpt2",
    mode: "qlora",
    batch: 4,
    seq: 128,
  },
  {
    id: "smollm2-135m-lora",
    label: "smollm2-135m LoRA (r8 q_proj, v_proj, every layer), gradient checkpointing",
    arch: "llama",
    size: "smollm2-135m",
    mode: "lora",
    batch: 4,
    seq: 128,
    // Without it the step (6.3 GiB planned, 5.8 of them activations of 30 layers) does not fit the wasm heap.
    checkpointing: true,
  },
];

/** Batch and sequence length of a row's step (T5: the target length). */
export function rowShape(row: Row, defaultBatch: number): { batch: number; seq: number } {
  if (row.arch === "t5") return { batch: row.batch ?? defaultBatch, seq: T5_LENGTHS.target };
  return { batch: row.batch ?? defaultBatch, seq: row.seq ?? SHAPES[row.size as ModelSize].nPositions };
}

/** GPT-2 shapes, as in the issues (the presets, with the small model's vocabulary at 2048; "gpt2" is the preset as it stands). */
export const SHAPES: Record<ModelSize, { vocabSize: number; nPositions: number; nEmbd: number; nLayer: number; nHead: number }> = {
  tiny: { vocabSize: 256, nPositions: 64, nEmbd: 128, nLayer: 4, nHead: 4 },
  small: { vocabSize: 2048, nPositions: 128, nEmbd: 256, nLayer: 6, nHead: 8 },
  gpt2: { vocabSize: 50257, nPositions: 1024, nEmbd: 768, nLayer: 12, nHead: 12 },
};

/** Dropout off on every row, as in the PyTorch reference (the byte presets have none; "gpt2" has 0.1). */
const NO_DROPOUT = { residPdrop: 0, embdPdrop: 0, attnPdrop: 0 };

/** T5: source and target lengths per row (the tiny preset's relative-position range is 64). */
export const T5_LENGTHS = { source: 64, target: 64 };

/** QLoRA's quantization, as lora-lab's `strategies.qlora` (and the QLoRA paper): NF4, blocks of 64, double quant. */
export const QLORA_QUANT = { quantType: "nf4", blocksize: 64, doubleQuant: true } as const;

export interface StepRunner {
  row: Row;
  /** One full training step; resolves when its loss has been read back. */
  step(): Promise<number>;
  tokens: number;
  /** Its memory plan (src/train/memory_plan.ts), made before the first step. */
  plan: MemoryPlan;
  /** Forward + backward + update FLOPs of one step (matmuls only, the usual 6N/2N accounting). */
  flops: number;
  /** Parameters of the model (the 4-bit weights counted as their number of values) and the trained ones. */
  parameters: number;
  trainable: number;
  dispose(): void;
}

/**
 * Matmul FLOPs of one step: forward 2mnk per product; backward 2x for trained weights, 1x (input
 * grad) otherwise, 2x for attention's two activation products. QLoRA does the matmuls of LoRA (the
 * dequantization of the 4-bit weights is elementwise work, not counted).
 */
export function stepFlops(row: Pick<Row, "arch" | "size" | "mode" | "seq">, B: number): number {
  const { fwd, attn } =
    row.arch === "t5"
      ? t5ForwardFlops(B)
      : row.arch === "llama"
        ? llamaForwardFlops(row.size as LlamaSize, B, row.seq!)
        : gptForwardFlops(row.size as ModelSize, B, row.seq);
  // Gradient checkpointing's second forward is not counted: these are the model's FLOPs, not the hardware's.
  if (row.mode === "full") return 3 * fwd;
  // LoRA: weight gradients only for the adapters (negligible); input gradients everywhere, the head's included.
  return 2 * fwd + attn;
}

function gptForwardFlops(size: ModelSize, B: number, seq?: number): { fwd: number; attn: number } {
  const { vocabSize: V, nPositions, nEmbd: d, nLayer: L, nHead: H } = SHAPES[size];
  const T = seq ?? nPositions;
  const N = B * T;
  const lin = 2 * N * d * (3 * d + d + 4 * d + 4 * d); // c_attn, c_proj, c_fc, mlp.c_proj
  const attn = 2 * 2 * B * H * T * T * (d / H); // q k^T and att v
  const head = 2 * N * d * V;
  return { fwd: L * (lin + attn) + head, attn: L * attn };
}

function llamaForwardFlops(size: LlamaSize, B: number, T: number): { fwd: number; attn: number } {
  const {
    vocabSize: V,
    hiddenSize: d,
    intermediateSize: ff,
    numHiddenLayers: L,
    numAttentionHeads: H,
    numKeyValueHeads: Hkv,
    headDim: hd,
  } = LlamaConfig.preset(size);
  const N = B * T;
  const lin = 2 * N * d * (2 * H * hd + 2 * Hkv * hd + 3 * ff); // q and o, k and v, gate / up / down
  const attn = 2 * 2 * B * H * T * T * hd;
  return { fwd: L * (lin + attn) + 2 * N * d * V, attn: L * attn };
}

function t5ForwardFlops(B: number): { fwd: number; attn: number } {
  const c = T5Config.preset("tiny");
  const { dModel: d, innerDim: inner, dFf: ff, numHeads: H, dKv, vocabSize: V } = c;
  const { source: S, target: T } = T5_LENGTHS;
  const ffMats = c.isGatedAct ? 3 : 2;
  const enc = 2 * B * S * (4 * d * inner + ffMats * d * ff);
  // Decoder: self-attention q,k,v,o and cross q,o on the target; cross k,v on the encoder's output.
  const dec = 2 * B * T * (6 * d * inner + ffMats * d * ff) + 2 * B * S * 2 * d * inner;
  const attn = c.numLayers * 4 * B * H * S * S * dKv + c.decoderLayers * 4 * B * H * (T * T + T * S) * dKv;
  const head = 2 * B * T * d * V;
  return { fwd: c.numLayers * enc + c.decoderLayers * dec + attn + head, attn };
}

/** Deterministic token ids ((i + offset) * 7 + 3) mod V, plus `low` (T5 keeps 0 and 1, pad and EOS, out of its labels). */
function ids(B: number, T: number, V: number, offset: number, low = 0): tf.Tensor2D {
  return tf.tensor2d(
    Int32Array.from({ length: B * T }, (_, i) => low + (((i + offset) * 7 + 3) % (V - low))),
    [B, T],
    "int32",
  );
}

function build(row: Row, B: number): { net: Module & { loss: (...a: tf.Tensor[]) => tf.Scalar }; inputs: tf.Tensor2D[]; tokens: number } {
  if (row.arch === "t5") {
    const base = t5(T5Config.preset("tiny"));
    const net = row.mode === "lora" ? getPeftModel(base, { r: 8, loraAlpha: 16, loraDropout: 0, targetModules: ["q", "v"] }) : base;
    const { source: S, target: T } = T5_LENGTHS;
    return { net: net as never, inputs: [ids(B, S, 256, 0, 2), ids(B, T, 256, 1, 2)], tokens: B * T };
  }
  if (row.arch === "llama") {
    const config = LlamaConfig.preset(row.size as LlamaSize);
    const base = llama(config);
    if (row.checkpointing) setGradientCheckpointing(base);
    const net = getPeftModel(base, { r: 8, loraAlpha: 16, loraDropout: 0, targetModules: ["q_proj", "v_proj"] });
    const T = rowShape(row, B).seq;
    return { net: net as never, inputs: [ids(B, T, config.vocabSize, 0), ids(B, T, config.vocabSize, 1)], tokens: B * T };
  }
  const shape = SHAPES[row.size as ModelSize];
  const base = gpt2(GPT2Config.preset(row.size as ModelSize, { ...shape, ...NO_DROPOUT }));
  if (row.mode === "qlora") quantizeModel(base, QLORA_QUANT);
  if (row.checkpointing) setGradientCheckpointing(base);
  const net =
    row.mode === "full"
      ? base
      : getPeftModel(base, {
          r: 8,
          loraAlpha: 16,
          loraDropout: 0,
          targetModules: ["c_attn"],
          fanInFanOut: row.mode === "lora",
          layersToTransform: Array.from({ length: shape.nLayer / 2 }, (_, i) => shape.nLayer / 2 + i),
        });
  const T = rowShape(row, B).seq;
  // Targets: the sequence shifted by one, so a model could learn it.
  return { net: net as never, inputs: [ids(B, T, shape.vocabSize, 0), ids(B, T, shape.vocabSize, 1)], tokens: B * T };
}

/**
 * The row's model, data and AdamW, ready to step. Before the first step its memory plan is made as
 * train() makes it, and a step that will not fit is refused with MemoryPlanError (never the wasm
 * backend's `Aborted()`).
 */
export function makeRow(row: Row, defaultBatch = 8): StepRunner {
  seed(0);
  const { batch: B, seq } = rowShape(row, defaultBatch);
  const { net, inputs, tokens } = build(row, B);
  const planOptions = { batchSize: B, seqLen: seq, optimizer: "adamw" } as const;
  const plan = memoryPlan(net, planOptions);
  if (!plan.fits) {
    const error = new MemoryPlanError(plan, planAlternatives(net, planOptions));
    (net as unknown as { dispose?: () => void }).dispose?.();
    tf.dispose(inputs);
    throw error;
  }
  const named = net.namedParameters();
  const optimizer = new AdamW(named, { lr: 1e-4, weightDecay: 0.01 });
  const trainable = [...named.entries()].filter(([, p]) => p.requiresGrad);
  const variables = trainable.map(([, p]) => p.variable);
  const nameOf = new Map(trainable.map(([n, p]) => [p.variable.name, n]));
  const count = (ps: Iterable<{ variable: tf.Variable }>) => [...ps].reduce((n, p) => n + p.variable.size, 0);
  // Each parameter once (tied weights appear under several names), plus the 4-bit weights' values.
  const quantized = [...net.namedModules().values()].reduce(
    (n, m) => n + ((m as { weight4bit?: { numel: number } }).weight4bit?.numel ?? 0),
    0,
  );
  const parameters = count(new Set(named.values())) + quantized;
  net.train(true);
  return {
    row,
    tokens,
    plan,
    flops: stepFlops(row, B),
    parameters,
    trainable: count(new Set(trainable.map(([, p]) => p))),
    async step() {
      const { value, grads } = tf.variableGrads(() => net.loss(inputs[0], inputs[1]), variables);
      const byName = new Map<string, tf.Tensor>();
      for (const [v, g] of Object.entries(grads)) byName.set(nameOf.get(v)!, g);
      optimizer.step(byName);
      tf.dispose(Object.values(grads));
      const loss = (await value.data())[0];
      value.dispose();
      return loss;
    },
    dispose() {
      optimizer.dispose();
      tf.dispose(inputs);
      (net as unknown as { dispose?: () => void }).dispose?.();
    },
  };
}
