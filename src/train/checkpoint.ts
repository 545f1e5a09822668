import type * as tf from "@tensorflow/tfjs";
import { existsSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  fromFloat32,
  leftBehind,
  readSafetensors,
  writeDirectoryAtomic,
  writeFileAtomic,
  writeSafetensors,
  type SafeTensor,
} from "../io/index.js";

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
 * trainer_state.json) into a temporary sibling folder, fsyncs it and only then swaps it into
 * place (writeDirectoryAtomic): a crash or an error mid-write leaves the checkpoint that was there
 * before (of this step, when one is re-saved; every earlier step's is never touched) and no
 * half-written one. Returns the folder.
 */
export async function saveTrainingCheckpoint(outputDir: string, ckpt: TrainingCheckpoint): Promise<string> {
  const final = join(outputDir, `checkpoint-${ckpt.step}`);
  try {
    await writeDirectoryAtomic(final, async (temp) => {
      await writeSafetensors(join(temp, "model.safetensors"), toSafe(ckpt.parameters), { format: "pt" });
      await writeSafetensors(join(temp, "optimizer.safetensors"), toSafe(ckpt.optimizerState), { format: "pt" });
      await writeFileAtomic(
        join(temp, "trainer_state.json"),
        JSON.stringify({ global_step: ckpt.step, ...ckpt.trainerState }, null, 2) + "\n",
      );
    });
  } catch (err) {
    throw new Error(`train: cannot write the checkpoint ${final}: ${(err as Error).message}`, { cause: err });
  }
  return final;
}

/** A checkpoint folder read back: the tensors as stored, and trainer_state.json. */
export interface StoredTrainingCheckpoint {
  step: number;
  parameters: Record<string, SafeTensor>;
  optimizerState: Record<string, SafeTensor>;
  trainerState: Record<string, unknown>;
}

/**
 * Reads `checkpoint-<step>/` back. A torn or truncated file fails with the safetensors parser's
 * error, which starts with the file's path; a missing file is named with the folder's contents.
 */
export async function readTrainingCheckpoint(dir: string): Promise<StoredTrainingCheckpoint> {
  if (!existsSync(dir)) {
    const { old } = leftBehind(dir);
    throw new Error(
      `train: no checkpoint folder ${dir}` +
        (old.length
          ? `; a save of it was interrupted and left the previous one whole at ${old.join(", ")}: rename that back to ${dir}`
          : ""),
    );
  }
  const statePath = join(dir, "trainer_state.json");
  let trainerState: Record<string, unknown>;
  try {
    trainerState = JSON.parse(await readFile(statePath, "utf8")) as Record<string, unknown>;
  } catch (err) {
    throw new Error(`train: cannot read the checkpoint's ${statePath}: ${(err as Error).message}`, { cause: err });
  }
  const step = trainerState.global_step;
  if (!Number.isInteger(step)) throw new Error(`train: ${statePath} has no integer "global_step" (got ${JSON.stringify(step)})`);
  const parameters = (await readSafetensors(join(dir, "model.safetensors"))).tensors;
  const optimizerState = (await readSafetensors(join(dir, "optimizer.safetensors"))).tensors;
  return { step: step as number, parameters, optimizerState, trainerState };
}
