import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import * as lab from "../../src/index.js";
import { expectNoLeak } from "../../src/engine/leaks.js";
import { checkpoint, setGradientCheckpointing } from "../../src/nn/index.js";

beforeAll(async () => {
  await lab.ready();
});

type LM = lab.Module & { loss(ids: number[][], targets: number[][]): tf.Scalar };

const ids = [
  [1, 5, 9, 2, 7, 3, 8, 4],
  [6, 2, 2, 9, 1, 0, 5, 3],
];
const targets = ids.map((r) => [...r.slice(1), 1]);

/** Loss and gradients of every trainable parameter, by name, with the same dropout seed. */
function lossAndGrads(model: LM, seed: number): { loss: number; grads: Map<string, Float32Array> } {
  lab.seed(seed);
  const named = [...model.namedParameters()].filter(([, p]) => p.requiresGrad);
  const { value, grads } = tf.variableGrads(
    () => model.loss(ids, targets),
    named.map(([, p]) => p.variable),
  );
  const out = new Map(named.map(([n, p]) => [n, grads[p.variable.name].dataSync() as Float32Array]));
  const loss = value.dataSync()[0];
  tf.dispose([value, ...Object.values(grads)]);
  return { loss, grads: out };
}

function maxDiff(a: Map<string, Float32Array>, b: Map<string, Float32Array>): number {
  expect([...b.keys()]).toEqual([...a.keys()]);
  let worst = 0;
  for (const [n, g] of a) {
    const h = b.get(n)!;
    for (let i = 0; i < g.length; i++) worst = Math.max(worst, Math.abs(g[i] - h[i]));
  }
  return worst;
}

/** The same model's loss and gradients without and with checkpointing. */
async function compare(model: LM): Promise<void> {
  model.train(true);
  const plain = lossAndGrads(model, 3);
  setGradientCheckpointing(model);
  const checked = await expectNoLeak(() => lossAndGrads(model, 3));
  setGradientCheckpointing(model, false);
  expect(checked.loss).toBeCloseTo(plain.loss, 6);
  expect(maxDiff(plain.grads, checked.grads)).toBeLessThan(1e-6);
}

/** Peak tensor bytes of one loss-and-gradients pass on [B, T] ids. */
async function peakBytes(model: LM, B: number, T: number): Promise<number> {
  const rows = Array.from({ length: B }, (_, b) => Array.from({ length: T + 1 }, (_, t) => (b * 7 + t * 3) % 16));
  const x = rows.map((r) => r.slice(0, -1));
  const y = rows.map((r) => r.slice(1));
  const named = [...model.namedParameters().values()].filter((p) => p.requiresGrad).map((p) => p.variable);
  const info = await tf.profile(() => {
    const { value, grads } = tf.variableGrads(() => model.loss(x, y), named);
    tf.dispose([value, ...Object.values(grads)]);
  });
  return info.peakBytes;
}

describe("gradient checkpointing", () => {
  it("gives GPT-2 the same loss and gradients, dropout masks included", async () => {
    lab.seed(0);
    const model = lab.gpt2(
      new lab.GPT2Config({ vocabSize: 16, nPositions: 8, nEmbd: 32, nLayer: 3, nHead: 4, residPdrop: 0.1, attnPdrop: 0.1 }),
    );
    await compare(model as unknown as LM);
  });

  it("keeps one block's activations instead of all: the peak of a 6-layer pass falls by more than half", async () => {
    lab.seed(0);
    const model = lab.gpt2(new lab.GPT2Config({ vocabSize: 16, nPositions: 64, nEmbd: 32, nLayer: 6, nHead: 4 })) as unknown as LM;
    model.train(true);
    const plain = await peakBytes(model, 4, 64);
    setGradientCheckpointing(model);
    const checked = await peakBytes(model, 4, 64);
    const weights = model.numParameters() * 4;
    expect(checked - weights).toBeLessThan(0.5 * (plain - weights));
  });

  it("gives LLaMA (grouped-query attention) the same gradients", async () => {
    lab.seed(1);
    const model = lab.llama(
      new lab.LlamaConfig({
        vocabSize: 16,
        hiddenSize: 32,
        intermediateSize: 64,
        numHiddenLayers: 2,
        numAttentionHeads: 4,
        numKeyValueHeads: 2,
      }),
    );
    await compare(model as unknown as LM);
  });

  it("routes gradients to LoRA adapters only, as without it", async () => {
    lab.seed(2);
    const base = lab.gpt2(new lab.GPT2Config({ vocabSize: 16, nPositions: 8, nEmbd: 32, nLayer: 2, nHead: 4 }));
    const model = lab.getPeftModel(base, new lab.LoraConfig({ r: 4, targetModules: ["c_attn"], initLoraWeights: false }));
    await compare(model as unknown as LM);
  });

  it("recomputes with the recorded dropout seeds: a different seed would change the gradients", async () => {
    lab.seed(0);
    const model = lab.gpt2(new lab.GPT2Config({ vocabSize: 16, nPositions: 8, nEmbd: 32, nLayer: 2, nHead: 4, residPdrop: 0.5 }));
    model.train(true);
    setGradientCheckpointing(model);
    const a = lossAndGrads(model as unknown as LM, 3);
    const b = lossAndGrads(model as unknown as LM, 4);
    expect(maxDiff(a.grads, b.grads)).toBeGreaterThan(1e-4);
  });

  it("checkpoint() alone: gradients of inputs and variables match tf.grads", () => {
    const w = tf.variable(tf.tensor2d([0.5, -1, 2, 0.25], [2, 2]));
    const x = tf.tensor2d([1, 2, -3, 0.5], [2, 2]);
    const f = (t: tf.Tensor) => tf.tanh(tf.matMul(t, w)).square();
    const direct = tf.grads((t: tf.Tensor, v: tf.Tensor) => tf.tanh(tf.matMul(t, v)).square().sum())([x, w]);
    const via = tf.variableGrads(() => tf.sum(checkpoint(f, [x], [w])) as tf.Scalar, [w]);
    const dx = tf.grad((t: tf.Tensor) => tf.sum(checkpoint(f, [t], [w])))(x);
    expect(Array.from(via.grads[w.name].dataSync())).toEqual(Array.from(direct[1].dataSync()));
    expect(Array.from(dx.dataSync())).toEqual(Array.from(direct[0].dataSync()));
    tf.dispose([w, x, ...direct, via.value, ...Object.values(via.grads), dx]);
  });

  it("refuses a model without a block stack", () => {
    expect(() => setGradientCheckpointing(new lab.Linear(2, 2) as never)).toThrow(/Linear has no block stack/);
  });
});
