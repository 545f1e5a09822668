#!/usr/bin/env node
import { parseArgs } from "node:util";
import { BACKENDS, type BackendChoice } from "../engine/index.js";
import { runDemo } from "./demo.js";

const USAGE = `usage: lora-lab <command> [options]

commands:
  demo     train the tiny GPT-2 on one Brown genre and show validation loss before and after
             --genre <letter|name>  Brown genre (default a = news)
             --steps <n>            training steps (default 200)
             --batch-size <n>       windows per step (default 8)
             --lr <x>               AdamW learning rate, constant (default 1e-3)
             --seed <n>             seed for weights and data order (default 0)
             --backend <name>       ${BACKENDS.join(" | ")} (default: fastest available)
             --report <path>        HTML report with loss and gradient-norm charts (default out/demo-report.html)
  help     show this text`;

function positiveInt(value: string | undefined, name: string, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`--${name} must be a positive integer, got "${value}"`);
  return n;
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === "help" || command === "--help" || command === "-h") {
    console.log(USAGE);
    return 0;
  }
  if (command !== "demo") {
    console.error(`lora-lab: unknown command "${command}"\n\n${USAGE}`);
    return 2;
  }
  const { values } = parseArgs({
    args: rest,
    options: {
      genre: { type: "string" },
      steps: { type: "string" },
      "batch-size": { type: "string" },
      lr: { type: "string" },
      seed: { type: "string" },
      backend: { type: "string" },
      "no-progress": { type: "boolean" },
      report: { type: "string" },
    },
    strict: true,
  });
  const lr = values.lr === undefined ? 1e-3 : Number(values.lr);
  if (!(lr > 0)) throw new Error(`--lr must be a positive number, got "${values.lr}"`);
  const seed = values.seed === undefined ? 0 : Number(values.seed);
  if (!Number.isInteger(seed)) throw new Error(`--seed must be an integer, got "${values.seed}"`);
  await runDemo({
    genre: values.genre ?? "a",
    steps: positiveInt(values.steps, "steps", 200),
    batchSize: positiveInt(values["batch-size"], "batch-size", 8),
    lr,
    seed,
    backend: values.backend as BackendChoice | undefined,
    evalBatches: 8,
    progress: !values["no-progress"],
    reportPath: values.report ?? "out/demo-report.html",
  });
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    console.error(`lora-lab: ${err instanceof Error ? err.message : String(err)}`);
    process.exitCode = 1;
  },
);
