import type * as tf from "@tensorflow/tfjs";
import { randomBytes } from "node:crypto";
import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { fromFloat32, writeFileAtomic, writeSafetensors, type SafeTensor } from "../io/index.js";

export interface TrainingCheckpoint {
  step: number;
  /** Trainable parameters by dotted name (for a PEFT model: the adapter's). */
  parameters: Record<string, tf.Tensor>;
  /** Optimizer moments by "<param>.exp_avg" / "<param>.exp_avg_sq". */
  optimizerState: Record<string, tf.Tensor>;
  /** transformers' trainer_state.json fields (global_step, log_history, ...). */
  trainerState: Record<string, unknown>;
}

function toSafe(tensors: Record<string, tf.Tensor>): Record<string, SafeTensor> {
  const out: Record<string, SafeTensor> = {};
  for (const [name, t] of Object.entries(tensors)) out[name] = fromFloat32(t.dataSync() as Float32Array, t.shape, "F32");
  return out;
}

/**
 * Writes `<outputDir>/checkpoint-<step>/` (model.safetensors, optimizer.safetensors,
 * trainer_state.json) into a temporary folder first and renames it into place, so a crash leaves
 * either no checkpoint or a whole one. Returns the folder.
 */
export async function saveTrainingCheckpoint(outputDir: string, ckpt: TrainingCheckpoint): Promise<string> {
  const final = join(outputDir, `checkpoint-${ckpt.step}`);
  const temp = join(outputDir, `.checkpoint-${ckpt.step}.${process.pid}.${randomBytes(4).toString("hex")}.tmp`);
  await mkdir(temp, { recursive: true });
  try {
    await writeSafetensors(join(temp, "model.safetensors"), toSafe(ckpt.parameters), { format: "pt" });
    await writeSafetensors(join(temp, "optimizer.safetensors"), toSafe(ckpt.optimizerState), { format: "pt" });
    await writeFileAtomic(
      join(temp, "trainer_state.json"),
      JSON.stringify({ global_step: ckpt.step, ...ckpt.trainerState }, null, 2) + "\n",
    );
    await rm(final, { recursive: true, force: true });
    await rename(temp, final);
  } catch (err) {
    await rm(temp, { recursive: true, force: true }).catch(() => undefined);
    throw new Error(`train: cannot write the checkpoint ${final}: ${(err as Error).message}`, { cause: err });
  }
  return final;
}
