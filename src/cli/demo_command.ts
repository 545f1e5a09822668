import { options, optionsUsage, parseOptions } from "./args.js";
import { BACKENDS, type BackendChoice } from "../engine/index.js";
import { ADAPTER_STRATEGY_KEYS, STRATEGY_KEYS } from "../forgetting/index.js";
import { DEFAULT_DEMO_STRATEGIES, runDemo } from "./demo.js";

const DEMO_OPTIONS = options({
  strategies: {
    kind: "list",
    placeholder: "a,b,..",
    help: `${Object.keys(STRATEGY_KEYS).join(" | ")}\n`,
    default: DEFAULT_DEMO_STRATEGIES,
    defaultText: DEFAULT_DEMO_STRATEGIES.join(","),
  },
  steps: { kind: "positiveInt", placeholder: "n", help: "training steps per strategy", default: 150 },
  "eval-every": { kind: "positiveInt", placeholder: "n", help: "steps between evaluations", defaultText: "max(10, steps / 6)" },
  "batch-size": { kind: "positiveInt", placeholder: "n", help: "windows per step", default: 8 },
  lr: { kind: "positiveNumber", help: "peak learning rate of full fine-tuning and freeze-lower", default: 1e-3, defaultText: "1e-3" },
  "adapter-lr": {
    kind: "positiveNumber",
    help: `peak learning rate of the adapter strategies\n(${ADAPTER_STRATEGY_KEYS.join(", ")})`,
    default: 3e-3,
    defaultText: "3e-3",
  },
  seed: { kind: "integer", placeholder: "n", help: "adapter initialisation and data order", default: 0 },
  size: { kind: "string", placeholder: "name", help: "shipped base checkpoint", default: "tiny" },
  "eval-windows": { kind: "positiveInt", placeholder: "n", help: "windows per eval set", default: 32 },
  backend: { kind: "string", placeholder: "name", help: BACKENDS.join(" | "), defaultText: "fastest available" },
  report: { kind: "string", placeholder: "path", help: "HTML report", default: "out/report.html" },
  "no-progress": { kind: "flag", help: "no progress bar" },
});

export const DEMO_USAGE = `  demo     fine-tune the shipped pretrained GPT-2 on Brown genre J ("learned") under several strategies
           and measure what each forgets of held-out press and fiction; writes an HTML report
${optionsUsage(DEMO_OPTIONS)}`;

export async function demoCommand(rest: string[]): Promise<number> {
  const o = parseOptions(DEMO_OPTIONS, rest);
  await runDemo({
    size: o.size,
    strategies: o.strategies,
    steps: o.steps,
    batchSize: o["batch-size"],
    lr: o.lr,
    adapterLr: o["adapter-lr"],
    seed: o.seed,
    evalWindows: o["eval-windows"],
    evalEvery: o["eval-every"],
    backend: o.backend as BackendChoice | undefined,
    progress: !o["no-progress"],
    reportPath: o.report,
  });
  return 0;
}
