import * as tf from "@tensorflow/tfjs";
import { recordSeeds, replaySeeds } from "../engine/index.js";
import type { Module } from "./module.js";

/**
 * Gradient checkpointing, as torch.utils.checkpoint: `fn(...inputs)` runs without keeping its
 * intermediate tensors for the backward pass, which runs it again from the saved inputs and takes
 * its gradients then. Memory for one block's activations is traded for a second forward pass.
 *
 * Why it matters here more than in PyTorch: TensorFlow.js keeps every intermediate gradient of a
 * backward pass until the pass ends (tape.ts never frees a node's output gradients), so without
 * checkpointing the peak is about twice the activations. With it, the outer tape holds one node
 * per block and each block's gradients live only while that block is differentiated.
 *
 * `inputs` are the tensors the block reads (their gradients are returned to the outer pass; a
 * mask or table gets a zero one); `params` are the block's trainable variables (frozen ones are left out, as they get no
 * gradient). `fn` must read no other tensor: one made in the forward pass is freed before the
 * backward pass needs it. Dropout draws
 * the same seeds in the recomputation (recordSeeds / replaySeeds), so the masks match.
 */
export function checkpoint(fn: (...xs: tf.Tensor[]) => tf.Tensor, inputs: tf.Tensor[], params: tf.Variable[]): tf.Tensor {
  const n = inputs.length;
  const seeds: number[] = [];
  const run = tf.customGrad((...args: unknown[]) => {
    const save = args[args.length - 1] as tf.GradSaveFunc;
    const xs = args.slice(0, n) as tf.Tensor[];
    save(xs);
    const value = tf.tidy(() => recordSeeds(seeds, () => fn(...xs)));
    const gradFunc = (dy: tf.Tensor, saved: tf.Tensor[]): tf.Tensor[] => {
      const wrt = [...saved, ...params];
      const grads = nestedGradients(() => replaySeeds(seeds, () => fn(...saved)), wrt, dy);
      return grads.map((g, i) => g ?? tf.zerosLike(wrt[i]));
    };
    return { value, gradFunc };
  });
  return run(...inputs, ...params);
}

/**
 * Turns gradient checkpointing on or off in every block stack of `model` (the modules with a
 * `gradientCheckpointing` field: GPT2Model, LlamaModel), as transformers'
 * `model.gradient_checkpointing_enable()`. It acts in training mode only, as there. Throws when
 * the model has no such stack, so a request is never silently ignored.
 */
export function setGradientCheckpointing(model: Module, enabled = true): void {
  const stacks = [model, ...model.namedModules().values()].filter((m): m is Module & CheckpointedStack => "gradientCheckpointing" in m);
  if (stacks.length === 0) throw new Error(`gradient checkpointing: ${model.constructor.name} has no block stack that supports it`);
  for (const s of stacks) s.gradientCheckpointing = enabled;
}

/** A module whose blocks can run under `checkpoint`. */
export interface CheckpointedStack {
  gradientCheckpointing: boolean;
}

/**
 * `forward(...inputs)` for one block, checkpointed when `stack` asks for it and is training.
 * `inputs` holds every tensor the block reads besides its own parameters (the hidden states
 * first, then masks or position tables): they are saved for the recomputation.
 */
export function runBlock(
  stack: Module & CheckpointedStack,
  block: Module,
  inputs: tf.Tensor[],
  forward: (...xs: tf.Tensor[]) => tf.Tensor,
): tf.Tensor {
  return stack.gradientCheckpointing && stack.training ? checkpoint(forward, inputs, block.trainableVariables()) : forward(...inputs);
}

/**
 * Gradients of `f` w.r.t. `xs` (weighted by `dy`) taken inside another gradient's backward pass,
 * as a custom gradient needs them. A gradients() call there starts a tape of its own and, at its
 * end, drops the engine's active tape, which the outer pass still needs to free its saved
 * tensors: it is put back. Entries are undefined where `f` does not depend on an x.
 */
export function nestedGradients(f: () => tf.Tensor, xs: tf.Tensor[], dy?: tf.Tensor): (tf.Tensor | undefined)[] {
  const state = (tf.engine() as unknown as { state: { activeTape: unknown } }).state;
  const outerTape = state.activeTape;
  try {
    return tf.engine().gradients(f, xs, dy, true).grads;
  } finally {
    state.activeTape = outerTape;
  }
}
