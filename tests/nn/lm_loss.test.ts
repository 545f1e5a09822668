import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import * as lab from "../../src/index.js";
import { expectNoLeak } from "../../src/engine/leaks.js";
import { crossEntropy, Linear, lmHeadLoss, lmLossChunkRows } from "../../src/nn/index.js";

beforeAll(async () => {
  await lab.ready();
});

/** Loss and gradients (hidden states and every variable given) of `loss`. */
function gradsOf(loss: (h: tf.Tensor) => tf.Scalar, hidden: tf.Tensor, vars: tf.Variable[]) {
  const { value, grads } = tf.variableGrads(() => loss(hidden), vars);
  const dh = tf.grad((h: tf.Tensor) => loss(h))(hidden);
  const out = { loss: value.dataSync()[0], dh: dh.dataSync(), dv: vars.map((v) => grads[v.name].dataSync()) };
  tf.dispose([value, dh, ...Object.values(grads)]);
  return out;
}

const close = (a: ArrayLike<number>, b: ArrayLike<number>) => {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - b[i]));
  return worst;
};

describe("lmHeadLoss: the LM head's cross-entropy in row chunks", () => {
  it("equals crossEntropy(head(hidden)) in value and in the gradients of hidden and head, ignored targets included", async () => {
    lab.seed(0);
    const head = new Linear(8, 11, { bias: false });
    const hidden = tf.randomNormal([2, 5, 8], 0, 1, "float32", 3);
    const targets = tf.tensor2d([3, -100, 10, 0, 7, -100, -100, -100, 2, 5], [2, 5], "int32");
    const direct = gradsOf((h) => crossEntropy(head.forward(h) as tf.Tensor, targets), hidden, [head.weight.variable]);
    // 3 rows a chunk: 4 chunks, one of them all ignored targets.
    const chunked = await expectNoLeak(() => gradsOf((h) => lmHeadLoss(h, head, targets, 3), hidden, [head.weight.variable]));
    expect(chunked.loss).toBeCloseTo(direct.loss, 6);
    expect(close(chunked.dh, direct.dh)).toBeLessThan(1e-6);
    expect(close(chunked.dv[0], direct.dv[0])).toBeLessThan(1e-6);
    tf.dispose([hidden, targets]);
    head.weight.dispose();
  });

  it("GPT-2's loss with a tied head: the embedding's gradient gathers both uses, as without chunks", () => {
    lab.seed(1);
    const model = lab.gpt2(new lab.GPT2Config({ vocabSize: 32, nPositions: 8, nEmbd: 16, nLayer: 1, nHead: 2 }));
    model.eval(); // no dropout: both runs see the same network
    const ids = tf.tensor2d([[1, 2, 3, 4, 5, 6, 7, 8]], undefined, "int32") as tf.Tensor2D;
    const t = tf.tensor2d([[2, 3, 4, 5, 6, 7, 8, -100]], undefined, "int32") as tf.Tensor2D;
    const wte = model.transformer.wte.weight.variable;
    const run = (chunk: number | undefined) => {
      const { value, grads } = tf.variableGrads(() => {
        const h = model.hiddenStates(ids);
        return chunk ? lmHeadLoss(h, model.lm_head, t, chunk) : crossEntropy(model.lm_head.forward(h) as tf.Tensor, t);
      }, [wte]);
      const out = { loss: value.dataSync()[0], g: grads[wte.name].dataSync() };
      tf.dispose([value, ...Object.values(grads)]);
      return out;
    };
    const direct = run(undefined);
    const chunked = run(2);
    expect(chunked.loss).toBeCloseTo(direct.loss, 6);
    expect(close(chunked.g, direct.g)).toBeLessThan(1e-6);
    tf.dispose([ids, t, ...Object.values(model.stateDict())]);
  });

  it("outside a gradient tape it computes the loss alone, equal to the direct one", () => {
    lab.seed(2);
    const head = new Linear(8, 11, { bias: false });
    const hidden = tf.randomNormal([3, 4, 8], 0, 1, "float32", 5);
    const targets = tf.tensor2d([1, 2, 3, -100, 5, 6, 7, 8, 9, 10, 0, 1], [3, 4], "int32");
    const direct = tf.tidy(() => crossEntropy(head.forward(hidden) as tf.Tensor, targets).dataSync()[0]);
    const chunked = tf.tidy(() => lmHeadLoss(hidden, head, targets, 5).dataSync()[0]);
    expect(chunked).toBeCloseTo(direct, 6);
    tf.dispose([hidden, targets]);
    head.weight.dispose();
  });

  it("chunks only when the logits would pass two chunks (32 MiB each)", () => {
    expect(lmLossChunkRows(512, 256)).toBe(512);
    expect(lmLossChunkRows(512, 50257)).toBe(Math.floor((32 * 2 ** 20) / (4 * 50257)));
  });
});
