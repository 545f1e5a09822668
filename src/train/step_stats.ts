import * as tf from "@tensorflow/tfjs";
import { squaredNorms, type GradMap } from "../optim/index.js";
import type { TrainedParameters } from "./micro_step.js";
import type { StepStatistics } from "./types.js";

/** What a step knows before its update, read from the backend in one download. */
export interface GradientMeasure {
  /** Mean loss over the step's micro-batches. */
  loss: number;
  /** Mean regularizer penalty, when there is one. */
  regularization?: number;
  /** Parameters that have a gradient, in model order; the squares below follow it. */
  params: string[];
  gradSquares: Float32Array;
  /** Squared weight norms before the update (the denominators of the update ratios). */
  weightSquares: Float32Array;
  gradNorm: number;
}

/** Downloads [mean loss, squared gradient norm per parameter, squared weight norm per parameter] at once. */
export async function measureGradients(
  losses: tf.Scalar[],
  penalties: tf.Scalar[],
  grads: GradMap,
  trained: TrainedParameters,
): Promise<GradientMeasure> {
  const params = trained.names.filter((n) => grads.has(n));
  const stats = tf.tidy(() =>
    tf.concat([
      tf.reshape(tf.mean(tf.stack(losses)), [1]),
      squaredNorms(params.map((n) => grads.get(n)!)),
      squaredNorms(params.map((n) => trained.variableOf.get(n)!)),
    ]),
  );
  const values = (await stats.data()) as Float32Array;
  stats.dispose();
  const regularization = penalties.length > 0 ? await meanOf(penalties) : undefined;
  const gradSquares = values.subarray(1, 1 + params.length);
  return {
    loss: values[0],
    regularization,
    params,
    gradSquares,
    weightSquares: values.subarray(1 + params.length),
    gradNorm: globalNorm(gradSquares),
  };
}

/** The event's statistics, from the measure before the update and the squared change of each parameter. */
export function stepStatistics(measure: GradientMeasure, updateSquares: Map<string, number>): StepStatistics {
  const { params } = measure;
  return {
    gradNorm: measure.gradNorm,
    gradNorms: moduleNorms(params, measure.gradSquares),
    updateRatios: updateRatios(
      params,
      params.map((n) => updateSquares.get(n)!),
      measure.weightSquares,
    ),
  };
}

async function meanOf(scalars: tf.Scalar[]): Promise<number> {
  const mean = tf.tidy(() => tf.mean(tf.stack(scalars)));
  const value = (await mean.data())[0];
  mean.dispose();
  return value;
}

/** The module a parameter belongs to: its dotted name minus the last segment. */
export function moduleNameOf(paramName: string): string {
  const dot = paramName.lastIndexOf(".");
  return dot < 0 ? paramName : paramName.slice(0, dot);
}

/**
 * Per-module L2 norms from per-parameter squared norms (sqrt of the module's sum), in float64 so
 * that module norms combine exactly into the global one.
 */
export function moduleNorms(paramNames: string[], squares: ArrayLike<number>): Record<string, number> {
  const sums: Record<string, number> = {};
  paramNames.forEach((name, i) => {
    const module = moduleNameOf(name);
    sums[module] = (sums[module] ?? 0) + squares[i];
  });
  for (const m of Object.keys(sums)) sums[m] = Math.sqrt(sums[m]);
  return sums;
}

/** Global norm from per-parameter squared norms. */
export function globalNorm(squares: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < squares.length; i++) s += squares[i];
  return Math.sqrt(s);
}

/**
 * ||update|| / ||weights before|| per module. A module whose weights were all zero (a LoRA B
 * matrix at its first step) reports 1 when it moved: the update is all of its value.
 */
export function updateRatios(
  paramNames: string[],
  updateSquares: ArrayLike<number>,
  weightSquares: ArrayLike<number>,
): Record<string, number> {
  const updates = moduleNorms(paramNames, updateSquares);
  const weights = moduleNorms(paramNames, weightSquares);
  const out: Record<string, number> = {};
  for (const m of Object.keys(updates)) out[m] = weights[m] > 0 ? updates[m] / weights[m] : updates[m] > 0 ? 1 : 0;
  return out;
}
