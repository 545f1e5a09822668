import { parseArgs } from "node:util";
import { integer, nonNegativeNumber, positiveInt } from "./args.js";
import { BACKENDS, type BackendChoice } from "../engine/index.js";
import { runPretrain } from "./pretrain.js";

export const PRETRAIN_USAGE = `  pretrain train a byte-level GPT-2 on the Brown corpus's general genres (all but J) and save it
             --size <tiny|small>    preset (default tiny)
             --steps <n>            optimizer steps (default 1000)
             --batch-size <n>       windows per step (default 16)
             --lr <x>               peak learning rate, warmup + cosine (default 3e-3)
             --warmup-ratio <x>     share of steps warming up (default 0.05)
             --seed <n>             weights and data order (default 0)
             --eval-windows <n>     held-out windows in the recorded validation set (default 512)
             --out <dir>            output folder (default checkpoints/<size>)
             --backend <name>       ${BACKENDS.join(" | ")} (default: fastest available)`;

export async function pretrainCommand(rest: string[]): Promise<number> {
  const { values } = parseArgs({
    args: rest,
    options: {
      size: { type: "string" },
      steps: { type: "string" },
      "batch-size": { type: "string" },
      lr: { type: "string" },
      "warmup-ratio": { type: "string" },
      seed: { type: "string" },
      "eval-windows": { type: "string" },
      out: { type: "string" },
      backend: { type: "string" },
      "no-progress": { type: "boolean" },
    },
    strict: true,
  });
  const size = values.size ?? "tiny";
  if (size !== "tiny" && size !== "small") throw new Error(`--size must be tiny or small, got "${size}"`);
  const seed = integer(values.seed, "seed", 0);
  await runPretrain({
    size,
    steps: positiveInt(values.steps, "steps", 1000),
    batchSize: positiveInt(values["batch-size"], "batch-size", 16),
    lr: nonNegativeNumber(values.lr, "lr", 3e-3),
    warmupRatio: nonNegativeNumber(values["warmup-ratio"], "warmup-ratio", 0.05),
    weightDecay: 0.01,
    seed,
    evalWindows: positiveInt(values["eval-windows"], "eval-windows", 512),
    evalBatchSize: 32,
    evalEvery: 100,
    outDir: values.out ?? `checkpoints/${size}`,
    backend: values.backend as BackendChoice | undefined,
    command: ["npm run pretrain --", ...rest].join(" "),
    progress: !values["no-progress"],
  });
  return 0;
}
