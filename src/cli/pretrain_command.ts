import { options, optionsUsage, parseOptions } from "./args.js";
import { BACKENDS, type BackendChoice } from "../engine/index.js";
import { runPretrain } from "./pretrain.js";

const PRETRAIN_OPTIONS = options({
  size: { kind: "string", placeholder: "tiny|small", help: "preset", default: "tiny" },
  steps: { kind: "positiveInt", placeholder: "n", help: "optimizer steps", default: 1000 },
  "batch-size": { kind: "positiveInt", placeholder: "n", help: "windows per step", default: 16 },
  lr: { kind: "nonNegativeNumber", help: "peak learning rate, warmup + cosine", default: 3e-3, defaultText: "3e-3" },
  "warmup-ratio": { kind: "nonNegativeNumber", help: "share of steps warming up", default: 0.05 },
  seed: { kind: "integer", placeholder: "n", help: "weights and data order", default: 0 },
  "eval-windows": { kind: "positiveInt", placeholder: "n", help: "held-out windows in the recorded validation set", default: 512 },
  out: { kind: "string", placeholder: "dir", help: "output folder", defaultText: "checkpoints/<size>" },
  backend: { kind: "string", placeholder: "name", help: BACKENDS.join(" | "), defaultText: "fastest available" },
  "no-progress": { kind: "flag", help: "no progress bar" },
});

export const PRETRAIN_USAGE = `  pretrain train a byte-level GPT-2 on the Brown corpus's general genres (all but J) and save it
${optionsUsage(PRETRAIN_OPTIONS)}`;

export async function pretrainCommand(rest: string[]): Promise<number> {
  const o = parseOptions(PRETRAIN_OPTIONS, rest);
  if (o.size !== "tiny" && o.size !== "small") throw new Error(`--size must be tiny or small, got "${o.size}"`);
  await runPretrain({
    size: o.size,
    steps: o.steps,
    batchSize: o["batch-size"],
    lr: o.lr,
    warmupRatio: o["warmup-ratio"],
    weightDecay: 0.01,
    seed: o.seed,
    evalWindows: o["eval-windows"],
    evalBatchSize: 32,
    evalEvery: 100,
    outDir: o.out ?? `checkpoints/${o.size}`,
    backend: o.backend as BackendChoice | undefined,
    command: ["npm run pretrain --", ...rest].join(" "),
    progress: !o["no-progress"],
  });
  return 0;
}
