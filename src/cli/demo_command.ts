import { parseArgs } from "node:util";
import { integer, positiveInt, positiveNumber } from "./args.js";
import { BACKENDS, type BackendChoice } from "../engine/index.js";
import { ADAPTER_STRATEGY_KEYS, STRATEGY_KEYS } from "../forgetting/index.js";
import { DEFAULT_DEMO_STRATEGIES, runDemo } from "./demo.js";

export const DEMO_USAGE = `  demo     fine-tune the shipped pretrained GPT-2 on Brown genre J ("learned") under several strategies
           and measure what each forgets of held-out press and fiction; writes an HTML report
             --strategies <a,b,..>  ${Object.keys(STRATEGY_KEYS).join(" | ")}
                                    (default ${DEFAULT_DEMO_STRATEGIES.join(",")})
             --steps <n>            training steps per strategy (default 150)
             --eval-every <n>       steps between evaluations (default max(10, steps / 6))
             --batch-size <n>       windows per step (default 8)
             --lr <x>               peak learning rate of full fine-tuning and freeze-lower (default 1e-3)
             --adapter-lr <x>       peak learning rate of the adapter strategies (${ADAPTER_STRATEGY_KEYS.join(", ")}; default 3e-3)
             --seed <n>             adapter initialisation and data order (default 0)
             --size <name>          shipped base checkpoint (default tiny)
             --eval-windows <n>     windows per eval set (default 32)
             --backend <name>       ${BACKENDS.join(" | ")} (default: fastest available)
             --report <path>        HTML report (default out/report.html)`;

export async function demoCommand(rest: string[]): Promise<number> {
  const { values } = parseArgs({
    args: rest,
    options: {
      strategies: { type: "string" },
      steps: { type: "string" },
      "batch-size": { type: "string" },
      lr: { type: "string" },
      "adapter-lr": { type: "string" },
      seed: { type: "string" },
      size: { type: "string" },
      "eval-windows": { type: "string" },
      "eval-every": { type: "string" },
      backend: { type: "string" },
      "no-progress": { type: "boolean" },
      report: { type: "string" },
    },
    strict: true,
  });
  const lr = positiveNumber(values.lr, "lr", 1e-3);
  const adapterLr = positiveNumber(values["adapter-lr"], "adapter-lr", 3e-3);
  const seed = integer(values.seed, "seed", 0);
  const steps = positiveInt(values.steps, "steps", 150);
  await runDemo({
    size: values.size ?? "tiny",
    strategies: values.strategies ? values.strategies.split(",").map((s) => s.trim()).filter(Boolean) : DEFAULT_DEMO_STRATEGIES,
    steps,
    batchSize: positiveInt(values["batch-size"], "batch-size", 8),
    lr,
    adapterLr,
    seed,
    evalWindows: positiveInt(values["eval-windows"], "eval-windows", 32),
    evalEvery: values["eval-every"] === undefined ? undefined : positiveInt(values["eval-every"], "eval-every", 1),
    backend: values.backend as BackendChoice | undefined,
    progress: !values["no-progress"],
    reportPath: values.report ?? "out/report.html",
  });
  return 0;
}
