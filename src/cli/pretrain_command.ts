import { options, optionsUsage, parseOptions } from "./args.js";
import { BACKENDS, type BackendChoice } from "../engine/index.js";
import { GPT2Config } from "../models/index.js";
import { defaultPretrainTokenizer, PRETRAIN_SIZES, runPretrain, type PretrainSize, type PretrainTokenizer } from "./pretrain.js";

const PRETRAIN_OPTIONS = options({
  size: { kind: "string", placeholder: "name", help: `preset: ${PRETRAIN_SIZES.join(" | ")}`, default: "tiny" },
  tokenizer: {
    kind: "string",
    placeholder: "kind",
    help: "byte (UTF-8 bytes) | bpe (train a byte-level BPE on the training documents\nfirst) | a folder (load the tokenizer saved there)\n",
    defaultText: "bpe for teach-12l, byte for tiny and small",
  },
  "vocab-size": { kind: "positiveInt", placeholder: "n", help: "BPE vocabulary, <|endoftext|> included", defaultText: "the preset's" },
  steps: { kind: "positiveInt", placeholder: "n", help: "optimizer steps", default: 1000 },
  "batch-size": { kind: "positiveInt", placeholder: "n", help: "windows per step", default: 16 },
  lr: { kind: "nonNegativeNumber", help: "peak learning rate, warmup + cosine", default: 3e-3, defaultText: "3e-3" },
  "warmup-ratio": { kind: "nonNegativeNumber", help: "share of steps warming up", default: 0.05 },
  seed: { kind: "integer", placeholder: "n", help: "weights and data order", default: 0 },
  "eval-windows": { kind: "positiveInt", placeholder: "n", help: "held-out windows in the recorded validation set", default: 512 },
  "eval-every": { kind: "positiveInt", placeholder: "n", help: "steps between validation points of the loss curve", default: 100 },
  out: { kind: "string", placeholder: "dir", help: "output folder", defaultText: "checkpoints/<size>" },
  backend: { kind: "string", placeholder: "name", help: BACKENDS.join(" | "), defaultText: "fastest available" },
  "no-progress": { kind: "flag", help: "no progress bar" },
});

export const PRETRAIN_USAGE = `  pretrain train a GPT-2 on the Brown corpus's general genres (all but J) and save it
${optionsUsage(PRETRAIN_OPTIONS)}`;

/** --tokenizer and --vocab-size as a `PretrainTokenizer`; a byte preset given --tokenizer bpe gets teach-12l's vocabulary size. */
export function pretrainTokenizerOption(
  size: PretrainSize,
  tokenizer: string | undefined,
  vocabSize: number | undefined,
): PretrainTokenizer {
  const preset = defaultPretrainTokenizer(size);
  const kind = tokenizer ?? preset.kind;
  if (kind === "bpe") {
    const presetVocab = preset.kind === "bpe" ? preset.vocabSize : GPT2Config.preset("teach-12l").vocabSize;
    return { kind: "bpe", vocabSize: vocabSize ?? presetVocab, minFrequency: 2 };
  }
  if (vocabSize !== undefined) throw new Error(`--vocab-size sets a BPE's vocabulary; it needs --tokenizer bpe, got --tokenizer ${kind}`);
  return kind === "byte" ? { kind: "byte" } : { kind: "load", dir: kind };
}

export async function pretrainCommand(rest: string[]): Promise<number> {
  const o = parseOptions(PRETRAIN_OPTIONS, rest);
  const size = o.size as PretrainSize;
  if (!PRETRAIN_SIZES.includes(size)) throw new Error(`--size must be one of ${PRETRAIN_SIZES.join(", ")}, got "${o.size}"`);
  await runPretrain({
    size,
    tokenizer: pretrainTokenizerOption(size, o.tokenizer, o["vocab-size"]),
    steps: o.steps,
    batchSize: o["batch-size"],
    lr: o.lr,
    warmupRatio: o["warmup-ratio"],
    weightDecay: 0.01,
    seed: o.seed,
    evalWindows: o["eval-windows"],
    evalBatchSize: 32,
    evalEvery: o["eval-every"],
    outDir: o.out ?? `checkpoints/${size}`,
    backend: o.backend as BackendChoice | undefined,
    command: ["npm run pretrain --", ...rest].join(" "),
    progress: !o["no-progress"],
  });
  return 0;
}
