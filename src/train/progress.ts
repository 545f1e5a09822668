import cliProgress from "cli-progress";
import type { StepEvent } from "./types.js";

/** A terminal progress bar fed by step events: smoothed loss, LR, grad norm, tokens/s. */
export class ProgressBar {
  private readonly bar: cliProgress.SingleBar;
  private smoothed: number | undefined;

  constructor(total: number) {
    this.bar = new cliProgress.SingleBar(
      {
        format: "training |{bar}| {value}/{total} steps | loss {loss} | lr {lr} | grad {grad} | {tps} tok/s | eta {eta_formatted}",
        hideCursor: true,
        // Outside a terminal (CI logs) print the bar as a line every few seconds.
        noTTYOutput: true,
        notTTYSchedule: 5000,
      },
      cliProgress.Presets.shades_classic,
    );
    this.bar.start(total, 0, { loss: "-", lr: "-", grad: "-", tps: "-" });
  }

  update(e: StepEvent): void {
    this.smoothed = this.smoothed === undefined ? e.loss : 0.9 * this.smoothed + 0.1 * e.loss;
    this.bar.update(e.step, {
      loss: this.smoothed.toFixed(3),
      lr: e.lr.toExponential(2),
      grad: e.gradNorm.toFixed(2),
      tps: Math.round(e.tokensPerSecond),
    });
  }

  stop(): void {
    this.bar.stop();
  }
}
