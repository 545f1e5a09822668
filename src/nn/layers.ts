import * as tf from "@tensorflow/tfjs";
import { nextSeed } from "../engine/index.js";
import { Module } from "./module.js";
import type { Parameter } from "./parameter.js";
import { init } from "./init.js";
import { layerNorm, linearInOut, linearOutIn } from "./functional.js";

export function checkPositiveInt(value: number, what: string): void {
  if (!Number.isInteger(value) || value <= 0) throw new Error(`${what} must be a positive integer, got ${value}`);
}

export function checkLastDim(x: tf.Tensor, expected: number, layer: string): void {
  const got = x.shape[x.rank - 1];
  if (got !== expected) throw new Error(`${layer} expects inputs with last dimension ${expected}, got shape [${x.shape}]`);
}

export interface LinearOptions {
  bias?: boolean;
  /** Std of a normal init; default is PyTorch's U(-1/sqrt(in), 1/sqrt(in)). */
  initStd?: number;
  /** Share an existing [out, in] parameter instead of creating one (tied embeddings). */
  weight?: Parameter;
}

/** y = x W^T + b with W stored [out, in], as torch.nn.Linear. */
export class Linear extends Module<[tf.Tensor], tf.Tensor> {
  readonly weight: Parameter;
  readonly bias?: Parameter;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: LinearOptions = {},
  ) {
    super();
    checkPositiveInt(inFeatures, "Linear inFeatures");
    checkPositiveInt(outFeatures, "Linear outFeatures");
    const bound = 1 / Math.sqrt(inFeatures);
    if (opts.weight) {
      if (!tf.util.arraysEqual(opts.weight.shape, [outFeatures, inFeatures])) {
        throw new Error(`Linear(${inFeatures}, ${outFeatures}) needs a [${outFeatures}, ${inFeatures}] weight, got [${opts.weight.shape}]`);
      }
      this.weight = this.registerParameter("weight", opts.weight);
    } else {
      const w =
        opts.initStd !== undefined ? init.normal([outFeatures, inFeatures], opts.initStd) : init.uniform([outFeatures, inFeatures], bound);
      this.weight = this.registerInitialized("weight", w);
    }
    if (opts.bias ?? true) {
      const b = opts.initStd !== undefined ? init.zeros([outFeatures]) : init.uniform([outFeatures], bound);
      this.bias = this.registerInitialized("bias", b);
    }
  }

  forward(x: tf.Tensor): tf.Tensor {
    checkLastDim(x, this.inFeatures, "Linear");
    return linearOutIn(x, this.weight.variable, this.bias?.variable);
  }
}

/** GPT-2's Conv1D: a linear layer whose weight is stored [in, out] (y = x W + b). */
export class Conv1D extends Module<[tf.Tensor], tf.Tensor> {
  readonly weight: Parameter;
  readonly bias: Parameter;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    opts: { initStd?: number } = {},
  ) {
    super();
    checkPositiveInt(inFeatures, "Conv1D inFeatures");
    checkPositiveInt(outFeatures, "Conv1D outFeatures");
    this.weight = this.registerInitialized("weight", init.normal([inFeatures, outFeatures], opts.initStd ?? 0.02));
    this.bias = this.registerInitialized("bias", init.zeros([outFeatures]));
  }

  forward(x: tf.Tensor): tf.Tensor {
    checkLastDim(x, this.inFeatures, "Conv1D");
    return linearInOut(x, this.weight.variable, this.bias.variable);
  }
}

/** A lookup table [numEmbeddings, dim]. */
/**
 * A language-model head over `embedding`'s vocabulary: sharing its weight when `tie` is set
 * (tie_word_embeddings), otherwise a fresh bias-free projection drawn with std `initStd`.
 */
export function lmHead(embedding: Embedding, tie: boolean, initStd: number): Linear {
  const { embeddingDim: C, numEmbeddings: V } = embedding;
  return tie ? new Linear(C, V, { bias: false, weight: embedding.weight }) : new Linear(C, V, { bias: false, initStd });
}

export class Embedding extends Module<[tf.Tensor], tf.Tensor> {
  readonly weight: Parameter;

  constructor(
    readonly numEmbeddings: number,
    readonly embeddingDim: number,
    opts: { initStd?: number } = {},
  ) {
    super();
    checkPositiveInt(numEmbeddings, "Embedding numEmbeddings");
    checkPositiveInt(embeddingDim, "Embedding embeddingDim");
    this.weight = this.registerInitialized("weight", init.normal([numEmbeddings, embeddingDim], opts.initStd ?? 1));
  }

  forward(ids: tf.Tensor): tf.Tensor {
    return tf.gather(this.weight.variable, ids.toInt());
  }
}

/** Layer normalisation over the last axis with a learned scale and shift. */
export class LayerNorm extends Module<[tf.Tensor], tf.Tensor> {
  readonly weight: Parameter;
  readonly bias: Parameter;

  constructor(
    readonly normalizedShape: number,
    readonly eps = 1e-5,
  ) {
    super();
    checkPositiveInt(normalizedShape, "LayerNorm size");
    this.weight = this.registerInitialized("weight", init.ones([normalizedShape]));
    this.bias = this.registerInitialized("bias", init.zeros([normalizedShape]));
  }

  forward(x: tf.Tensor): tf.Tensor {
    checkLastDim(x, this.normalizedShape, "LayerNorm");
    return layerNorm(x, this.weight.variable, this.bias.variable, this.eps);
  }
}

/** Inverted dropout, active only in training mode; masks come from lora-lab's seed. */
export class Dropout extends Module<[tf.Tensor], tf.Tensor> {
  constructor(readonly p = 0.1) {
    super();
    if (!(p >= 0 && p < 1)) throw new Error(`Dropout probability must be in [0, 1), got ${p}`);
  }

  forward(x: tf.Tensor): tf.Tensor {
    if (!this.training || this.p === 0) return x;
    return tf.dropout(x, this.p, undefined, nextSeed());
  }
}

/** An ordered list of modules named "0", "1", ... (GPT-2's `transformer.h`). */
export class ModuleList<M extends Module = Module> extends Module {
  constructor(modules: M[] = []) {
    super();
    modules.forEach((m, i) => this.registerModule(String(i), m));
  }

  get length(): number {
    return this._modules.size;
  }

  at(i: number): M {
    const m = this._modules.get(String(i));
    if (!m) throw new Error(`ModuleList index ${i} out of range (length ${this.length})`);
    return m as M;
  }

  forward(): never {
    throw new Error("ModuleList holds modules by index; call one of them (list.at(i).forward(...))");
  }

  [Symbol.iterator](): Iterator<M> {
    return (this._modules.values() as Iterable<M>)[Symbol.iterator]();
  }
}
