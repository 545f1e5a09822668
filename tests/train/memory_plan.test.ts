import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import * as lab from "../../src/index.js";
import { AdamW } from "../../src/optim/index.js";

beforeAll(async () => {
  await lab.ready();
});

const windows = (n: number, T: number, V: number) =>
  Array.from({ length: n }, (_, i) => Array.from({ length: T + 1 }, (_, t) => (i * 13 + t * 5) % V));

const smallGpt2 = (nLayer = 4, nPositions = 64) =>
  lab.gpt2(new lab.GPT2Config({ vocabSize: 512, nPositions, nEmbd: 128, nLayer, nHead: 4 }));

const free = (model: lab.Module) => tf.dispose(Object.values(model.stateDict()));

describe("memoryPlan: exact byte counts of the tensors it describes", () => {
  it("weights are the bytes the model's tensors take on the backend; gradients and AdamW's moments those they allocate", () => {
    lab.seed(0);
    const before = tf.memory().numBytes;
    const model = smallGpt2();
    const weights = tf.memory().numBytes - before;
    const plan = lab.memoryPlan(model, { batchSize: 2, seqLen: 16 });
    expect(plan.weights).toBe(weights);
    expect(plan.method).toBe("full");
    expect(plan.trainableParameters).toBe(model.numParameters());

    const named = model.namedParameters();
    const ids = tf.tensor2d(
      windows(2, 16, 512).map((r) => r.slice(0, 16)),
      undefined,
      "int32",
    ) as tf.Tensor2D;
    const { value, grads } = tf.variableGrads(
      () => model.loss(ids, ids),
      [...named.values()].map((p) => p.variable),
    );
    const gradBytes = Object.values(grads).reduce((a, g) => a + g.size * 4, 0);
    expect(plan.gradients).toBe(gradBytes);

    const optimizer = new AdamW(named);
    optimizer.step(new Map([...named].map(([n, p]) => [n, grads[p.variable.name]])));
    const stateBytes = Object.values(optimizer.stateTensors()).reduce((a, t) => a + t.size * 4, 0);
    expect(plan.optimizerStates).toBe(stateBytes);
    optimizer.dispose();
    tf.dispose([ids, value, ...Object.values(grads)]);
    free(model);
  });

  it("LoRA: only the adapters train; a paged optimizer keeps its moments in host memory", () => {
    lab.seed(0);
    const model = lab.getPeftModel(smallGpt2(), new lab.LoraConfig({ r: 8, targetModules: ["c_attn"] }));
    const adapters = model.numParameters({ trainableOnly: true });
    expect(adapters).toBe(4 * 8 * (128 + 384));
    const plan = lab.memoryPlan(model, { batchSize: 2, seqLen: 16, optimizer: "paged_adamw" });
    expect(plan.method).toBe("lora");
    expect(plan.gradients).toBe(4 * adapters);
    expect(plan.optimizerStates).toBe(0);
    expect(plan.host).toBe(8 * adapters);
    free(model);
  });

  it("QLoRA: 4-bit weights count as parameters and sit in host memory at bitsandbytes' packed size", () => {
    lab.seed(0);
    const base = smallGpt2(2);
    const full = base.numParameters();
    lab.quantizeModel(base, { quantType: "nf4", doubleQuant: true });
    const model = lab.getPeftModel(base, new lab.LoraConfig({ r: 8, targetModules: ["c_attn"] }));
    const plan = lab.memoryPlan(model, { batchSize: 2, seqLen: 16 });
    expect(plan.method).toBe("qlora");
    expect(plan.parameters).toBe(full + 2 * 8 * (128 + 384));
    const linears = [128 * 384, 128 * 128, 128 * 512, 512 * 128].map((n) => lab.fourBitStorageBytes(n));
    expect(plan.host).toBe(2 * linears.reduce((a, b) => a + b, 0));
    free(model);
  });
});

describe("memoryPlan against the measured peak of training", () => {
  // Peak tensor bytes over two real training steps (tf.profile), against the plan made before them.
  async function planAndPeak(model: lab.Module, opts: { B: number; T: number; optimizer?: lab.PlannedOptimizer; checkpointing?: boolean }) {
    const optimizer = opts.optimizer ?? "adamw";
    if (opts.checkpointing) lab.setGradientCheckpointing(model);
    const plan = lab.memoryPlan(model, { batchSize: opts.B, seqLen: opts.T, optimizer });
    const run = { data: windows(8, opts.T, 512), batchSize: opts.B, steps: 2, lr: 1e-4, optimizer, progress: false };
    const { peakBytes } = await tf.profile(async () => {
      await lab.train(model as never, run);
    });
    free(model);
    return plan.total / peakBytes;
  }

  it("GPT-2, full fine-tuning with AdamW: within 15%", async () => {
    lab.seed(0);
    const ratio = await planAndPeak(smallGpt2(), { B: 4, T: 64 });
    expect(Math.abs(ratio - 1)).toBeLessThan(0.15);
  });

  it("GPT-2, 6 layers, gradient checkpointing and paged AdamW: within 15%", async () => {
    lab.seed(0);
    const ratio = await planAndPeak(smallGpt2(6, 128), { B: 4, T: 128, optimizer: "paged_adamw", checkpointing: true });
    expect(Math.abs(ratio - 1)).toBeLessThan(0.15);
  });

  it("LLaMA (grouped-query attention, SwiGLU 2.75x) with LoRA on q_proj, v_proj: within 15%", async () => {
    lab.seed(0);
    const base = lab.llama(
      new lab.LlamaConfig({
        vocabSize: 512,
        hiddenSize: 128,
        intermediateSize: 352,
        numHiddenLayers: 4,
        numAttentionHeads: 4,
        numKeyValueHeads: 2,
        maxPositionEmbeddings: 128,
      }),
    );
    const ratio = await planAndPeak(lab.getPeftModel(base, new lab.LoraConfig({ r: 8, targetModules: ["q_proj", "v_proj"] })), {
      B: 4,
      T: 96,
    });
    expect(Math.abs(ratio - 1)).toBeLessThan(0.15);
  });

  // Shapes outside the ones bench/memory-plan.ts fitted T5's and BART's coefficients on (3 layers a
  // stack, width 192, FFN 768, T 96).
  it("T5 (3 + 3 layers, relative position bias), full fine-tuning: within 15%", async () => {
    lab.seed(0);
    const model = lab.t5(new lab.T5Config({ vocabSize: 512, dModel: 192, dKv: 48, dFf: 768, numLayers: 3, numHeads: 4, dropoutRate: 0 }));
    const ratio = await planAndPeak(model, { B: 4, T: 96 });
    expect(Math.abs(ratio - 1)).toBeLessThan(0.15);
  });

  it("BART (3 + 3 layers, learned positions), full fine-tuning: within 15%", async () => {
    lab.seed(0);
    const base = lab.bart(
      new lab.BartConfig({
        vocabSize: 512,
        maxPositionEmbeddings: 128,
        dModel: 192,
        encoderLayers: 3,
        decoderLayers: 3,
        encoderAttentionHeads: 4,
        decoderAttentionHeads: 4,
        encoderFfnDim: 768,
        decoderFfnDim: 768,
        dropout: 0,
      }),
    );
    const ratio = await planAndPeak(base, { B: 4, T: 96 });
    expect(Math.abs(ratio - 1)).toBeLessThan(0.15);
  });
});

describe("train() refuses a run that will not fit, before the first step", () => {
  it("full fine-tuning at batch 8 x 1024 on the wasm heap: names the estimate, the limit and what would fit", async () => {
    lab.seed(0);
    const model = smallGpt2(4, 1024);
    const plan = lab.memoryPlan(model, { batchSize: 8, seqLen: 1024 });
    expect(plan.limitBytes).toBe(4 * 2 ** 30);
    expect(plan.fits).toBe(false);
    let steps = 0;
    const run = lab.train(model, { data: windows(8, 1024, 512), batchSize: 8, steps: 1, progress: false, onEvent: () => steps++ });
    const error = await run.catch((e: Error) => e);
    expect(error).toBeInstanceOf(lab.MemoryPlanError);
    const message = (error as Error).message;
    expect(message).toMatch(/needs an estimated (\d+\.\d\d) GiB but the wasm backend can hold 4\.00 GiB/);
    expect(message).toContain(`${(plan.total / 2 ** 30).toFixed(2)} GiB`);
    expect(message).toMatch(/These changes fit:\n {2}- gradientCheckpointing: true: \d+\.\d\d GiB/);
    expect(message).toMatch(/batchSize: 2 with gradientAccumulationSteps: 4/);
    // LoRA is weighed too; at this length the activations, not the weights, are what does not fit.
    const lora = lab.planAlternatives(model, { batchSize: 8, seqLen: 1024 }).find((a) => a.change === "LoRA r=8 on the default targets")!;
    expect(lora.plan.trainableParameters).toBe(4 * 8 * (128 + 384));
    expect(lora.plan.fits).toBe(false);
    expect(steps).toBe(0);
    // What the message offers does fit, and train() takes it (memoryCheck: false skips the check).
    expect(lab.memoryPlan(model, { batchSize: 8, seqLen: 1024, gradientCheckpointing: true }).fits).toBe(true);
    free(model);
  });

  it("bad options are named", () => {
    const model = smallGpt2(1);
    expect(() => lab.memoryPlan(model, { batchSize: 0, seqLen: 8 })).toThrow(/batchSize must be a positive integer, got 0/);
    expect(() => lab.memoryPlan(model, { batchSize: 1, seqLen: 8, optimizer: "sgd" as never })).toThrow(/optimizer must be .* got "sgd"/);
    free(model);
  });
});
