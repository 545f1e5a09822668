import * as tf from "@tensorflow/tfjs";
import { beforeAll, describe, expect, it } from "vitest";
import { ready, seed } from "../../src/engine/index.js";
import { collateSeq2Seq, seq2seqBatches, syntheticSeq2SeqExamples, type Seq2SeqBatch } from "../../src/data/index.js";
import { T5Config, t5, type T5ForConditionalGeneration } from "../../src/models/index.js";

beforeAll(async () => {
  await ready({ backend: "wasm" });
});

function batchLoss(model: T5ForConditionalGeneration, b: Seq2SeqBatch): tf.Scalar {
  return tf.tidy(() =>
    model.loss(tf.tensor2d(b.inputIds, b.sourceShape, "int32"), tf.tensor2d(b.labels, b.labelShape, "int32"), {
      attentionMask: tf.tensor2d(b.attentionMask, b.sourceShape, "int32"),
    }),
  );
}

describe("tiny T5 on wasm", () => {
  it("learns to reverse token strings: validation loss falls below what a source-blind decoder can reach, tensors stay flat", () => {
    seed(0);
    const model = t5(T5Config.preset("tiny"));
    const task = { task: "reverse", vocabSize: 12, minLength: 3, maxLength: 6 } as const;
    const train = syntheticSeq2SeqExamples({ ...task, count: 1600, seed: 1 });
    const validation = collateSeq2Seq(syntheticSeq2SeqExamples({ ...task, count: 64, seed: 2 }));
    // A decoder that ignores the source can at best guess each target symbol among the 10 (ln 10
    // each) and the EOS for free: its mean loss is >= ln(10) * (symbol targets / all targets).
    const symbols = [...validation.labels].filter((id) => id >= 2).length;
    const targets = [...validation.labels].filter((id) => id >= 0).length;
    const sourceBlindFloor = (Math.log(10) * symbols) / targets; // about ln(10) * 4.5 / 5.5 = 1.88
    const evaluate = () => {
      const l = batchLoss(model, validation);
      const v = l.dataSync()[0]!;
      l.dispose();
      return v;
    };
    const initial = evaluate();
    expect(initial).toBeGreaterThan(Math.log(256) - 1); // untrained: near uniform over the byte vocabulary

    const optimizer = tf.train.adam(3e-3);
    const steps = 200;
    let step = 0;
    let afterFirstStep = 0;
    const batches = seq2seqBatches(train, { batchSize: 16, seed: 3 }); // each pass is one epoch
    while (step < steps) {
      for (const batch of batches) {
        const loss = optimizer.minimize(() => batchLoss(model, batch), true, model.trainableVariables());
        loss?.dispose();
        step++;
        // Adam creates its slot variables on the first step; from then on nothing may accumulate.
        if (step === 1) afterFirstStep = tf.memory().numTensors;
        if (step === steps) break;
      }
    }
    expect(tf.memory().numTensors).toBe(afterFirstStep);
    const final = evaluate();
    console.log(
      `tiny T5 reverse: validation loss ${initial.toFixed(3)} -> ${final.toFixed(3)} after ${steps} steps (source-blind floor ${sourceBlindFloor.toFixed(3)})`,
    );
    expect(final).toBeLessThan(sourceBlindFloor);
    expect(final).toBeLessThan(initial / 3);
    optimizer.dispose();
    model.dispose();
  });
});
