/**
 * Re-measures the activation coefficients of src/train/memory_plan.ts: the peak tensor bytes
 * (tf.profile) of one forward and backward pass on small GPT-2 / LLaMA shapes, per token, next to
 * what the plan predicts for the same pass, for GPT-2, LLaMA, T5 and BART. Shapes that differ in one field at a time separate
 * the terms (layers, hidden, ffn, heads x T, vocabulary, checkpointing, LoRA).
 *
 *   npx vite-node bench/memory-plan.ts
 */
import * as tf from "@tensorflow/tfjs";
import * as lab from "../src/index.js";
import { microStep, trainedParameters } from "../src/train/micro_step.js";

interface Shape {
  family: "gpt2" | "llama" | "t5" | "bart";
  V: number;
  T: number;
  h: number;
  L: number;
  a: number;
  B: number;
  f?: number;
  checkpointing?: boolean;
  lora?: boolean;
}

const SHAPES: Shape[] = [
  { family: "gpt2", V: 256, T: 64, h: 128, L: 2, a: 4, B: 4 },
  { family: "gpt2", V: 256, T: 64, h: 128, L: 4, a: 4, B: 4 },
  { family: "gpt2", V: 256, T: 128, h: 128, L: 4, a: 4, B: 4 },
  { family: "gpt2", V: 256, T: 64, h: 256, L: 4, a: 4, B: 4 },
  { family: "gpt2", V: 4096, T: 64, h: 128, L: 4, a: 4, B: 4 },
  { family: "gpt2", V: 50257, T: 128, h: 128, L: 2, a: 4, B: 4 },
  { family: "gpt2", V: 256, T: 64, h: 128, L: 4, a: 4, B: 4, checkpointing: true },
  { family: "gpt2", V: 256, T: 64, h: 128, L: 4, a: 4, B: 4, lora: true },
  { family: "llama", V: 256, T: 64, h: 128, L: 4, a: 4, B: 4 },
  { family: "llama", V: 256, T: 64, h: 128, L: 4, a: 4, B: 4, f: 256 },
  { family: "llama", V: 256, T: 64, h: 128, L: 4, a: 4, B: 4, lora: true },
  // Encoder-decoder: L encoder and L decoder blocks; the plan uses GPT-2's coefficients for them.
  { family: "t5", V: 256, T: 64, h: 128, L: 2, a: 4, B: 4 },
  { family: "t5", V: 256, T: 64, h: 128, L: 4, a: 4, B: 4 },
  { family: "t5", V: 256, T: 128, h: 128, L: 2, a: 4, B: 4 },
  { family: "t5", V: 256, T: 64, h: 128, L: 2, a: 4, B: 4, lora: true },
  { family: "bart", V: 256, T: 64, h: 128, L: 2, a: 4, B: 4 },
  { family: "bart", V: 256, T: 64, h: 128, L: 4, a: 4, B: 4 },
  { family: "bart", V: 256, T: 128, h: 128, L: 2, a: 4, B: 4 },
  { family: "bart", V: 256, T: 64, h: 128, L: 2, a: 4, B: 4, lora: true },
];

const LORA_TARGETS = { gpt2: ["c_attn"], llama: ["q_proj", "v_proj"], t5: ["q", "v"], bart: ["q_proj", "v_proj"] };

function build(s: Shape): lab.Module {
  const f = s.f ?? 4 * s.h;
  if (s.family === "llama")
    return lab.llama(
      new lab.LlamaConfig({
        vocabSize: s.V,
        hiddenSize: s.h,
        intermediateSize: f,
        numHiddenLayers: s.L,
        numAttentionHeads: s.a,
        maxPositionEmbeddings: s.T,
      }),
    );
  if (s.family === "t5")
    return lab.t5(new lab.T5Config({ vocabSize: s.V, dModel: s.h, dKv: s.h / s.a, dFf: f, numLayers: s.L, numHeads: s.a, dropoutRate: 0 }));
  if (s.family === "bart")
    return lab.bart(
      new lab.BartConfig({
        vocabSize: s.V,
        maxPositionEmbeddings: 2 * s.T,
        dModel: s.h,
        encoderLayers: s.L,
        decoderLayers: s.L,
        encoderAttentionHeads: s.a,
        decoderAttentionHeads: s.a,
        encoderFfnDim: f,
        decoderFfnDim: f,
        dropout: 0,
      }),
    );
  return lab.gpt2(new lab.GPT2Config({ vocabSize: s.V, nPositions: s.T, nEmbd: s.h, nLayer: s.L, nHead: s.a }));
}

await lab.ready();
console.log("shape | measured MiB | planned activations + gradients MiB | ratio");
for (const s of SHAPES) {
  lab.seed(0);
  const base = build(s);
  const model = s.lora ? lab.getPeftModel(base as never, new lab.LoraConfig({ r: 8, targetModules: LORA_TARGETS[s.family] })) : base;
  if (s.checkpointing) lab.setGradientCheckpointing(model);
  model.train(true);
  const named = model.namedParameters();
  const names = [...named.keys()].filter((n) => named.get(n)!.requiresGrad);
  const params = trainedParameters(names, (n) => named.get(n)!.variable);
  const rows = Array.from({ length: s.B }, (_, b) => Array.from({ length: s.T + 1 }, (_, t) => (b * 31 + t * 7) % s.V));
  const batch = {
    inputIds: Int32Array.from(rows.flatMap((r) => r.slice(0, -1))),
    targets: Int32Array.from(rows.flatMap((r) => r.slice(1))),
    shape: [s.B, s.T] as [number, number],
  };
  const before = tf.memory().numBytes;
  const profile = await tf.profile(() => {
    const r = microStep(model as never, params, batch);
    tf.dispose([r.loss, ...r.grads.values()]);
  });
  const measured = profile.peakBytes - before;
  const plan = lab.memoryPlan(model, { batchSize: s.B, seqLen: s.T });
  const planned = plan.activations + plan.gradients;
  const mib = (b: number) => (b / 2 ** 20).toFixed(1);
  console.log(`${JSON.stringify(s)} | ${mib(measured)} | ${mib(planned)} | ${(planned / measured).toFixed(3)}`);
  tf.dispose(Object.values(model.stateDict()));
}
