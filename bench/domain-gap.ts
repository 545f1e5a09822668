/**
 * How new is the new domain? A base's mean loss on held-out State of the Union windows against its
 * loss on held-out Brown general windows (the documents pretraining held out, generalSplit().heldOut),
 * in nats per token of its own tokenizer (per byte for the byte tokenizer). The gap is how far the
 * speeches are from what the base was pretrained on. A measurement, not a test.
 *
 * Run: npx vite-node bench/domain-gap.ts [folder | random-tiny] [--windows N] [--batch B]
 *   folder: a checkpoint folder (default checkpoints/teach-12l); random-tiny: an untrained tiny GPT-2
 *   over bytes (proves the script runs; its losses sit near ln 256 = 5.545 on both sets).
 * Windows are the base's context (n_positions), spread evenly over each held-out set (spreadWindows).
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ready, seed } from "../src/engine/index.js";
import { documentWindows, evalBatches, generalSplit, spreadWindows, tokenUnit } from "../src/forgetting/index.js";
import { domainSplit } from "../src/forgetting/experiment_data.js";
import { checkpointTokenizer } from "../src/forgetting/study.js";
import { fromPretrained, gpt2, type GPT2LMHeadModel } from "../src/models/index.js";
import { ByteTokenizer, type Tokenizer } from "../src/tokenizers/index.js";
import { evaluateLoss } from "../src/train/index.js";

const args = process.argv.slice(2);
const flag = (name: string, fallback: number) => {
  const i = args.indexOf(name);
  if (i < 0) return fallback;
  const value = Number(args[i + 1]);
  if (!Number.isInteger(value) || value < 1) throw new Error(`domain-gap: ${name} needs a positive integer; got ${args[i + 1]}`);
  args.splice(i, 2);
  return value;
};
const windows = flag("--windows", 256);
const batchSize = flag("--batch", 16);
const source = args[0] ?? "checkpoints/teach-12l";

const info = await ready();
let model: GPT2LMHeadModel;
let tokenizer: Tokenizer;
if (source === "random-tiny") {
  seed(0);
  model = gpt2("tiny");
  tokenizer = new ByteTokenizer();
} else {
  if (!existsSync(join(source, "model.safetensors")))
    throw new Error(`domain-gap: no model.safetensors in ${source}; pass a checkpoint folder or random-tiny`);
  model = await fromPretrained<GPT2LMHeadModel>(source);
  tokenizer = await checkpointTokenizer(source);
}
const T = model.config.nPositions;
const unit = tokenUnit(tokenizer);

// Brown J, the other new domain, for reference: how much further than J the speeches are.
const sets = {
  "SOTU held out": domainSplit("sotu").heldOut,
  "Brown J held out": domainSplit("brown-j").heldOut,
  "Brown general held out": generalSplit().heldOut,
};
console.log(
  `${source}: ${model.numParameters().toLocaleString("en-US")} parameters, vocabulary ${tokenizer.vocabSize}; backend ${info.backend}`,
);
console.log(`${windows} windows of ${T} ${unit}s per set, spread over its documents, in batches of ${batchSize}`);
const losses: number[] = [];
for (const [name, docs] of Object.entries(sets)) {
  const all = documentWindows(docs, tokenizer, T);
  const loss = await evaluateLoss(model, evalBatches(spreadWindows(all, windows), batchSize));
  losses.push(loss);
  // Bytes per token, to compare sets (or tokenizers) per byte: nats/byte = nats/token / (bytes/token).
  const bytesPerToken =
    docs.reduce((n, d) => n + Buffer.byteLength(d.text), 0) / docs.reduce((n, d) => n + tokenizer.encode(d.text).length, 0);
  const perByte = unit === "token" ? ` (${(loss / bytesPerToken).toFixed(4)} nats/byte at ${bytesPerToken.toFixed(2)} bytes/token)` : "";
  console.log(`${name}: ${docs.length} documents, ${all.length} windows; loss ${loss.toFixed(4)} nats/${unit}${perByte}`);
}
console.log(
  `gap to Brown general: SOTU ${(losses[0] - losses[2]).toFixed(4)}, J ${(losses[1] - losses[2]).toFixed(4)} nats/${unit}; uniform ln ${tokenizer.vocabSize} = ${Math.log(tokenizer.vocabSize).toFixed(4)}`,
);
const argsFile = join(source, "training_args.json");
if (existsSync(argsFile)) {
  const recorded = JSON.parse(readFileSync(argsFile, "utf8")).validation_loss;
  if (typeof recorded === "number") console.log(`pretraining's recorded validation loss: ${recorded.toFixed(4)} nats/${unit}`);
}
model.dispose();
