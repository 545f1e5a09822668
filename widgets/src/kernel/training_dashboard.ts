/**
 * TrainingDashboard: live loss and LR, per-module gradient-norm heatmap, forgetting curves, step
 * and tokens/s, and Pause / Resume / Stop that act on the running trainer between two steps
 * (train()'s `beforeStep` hook holds the loop; an AbortController stops it). Figures are sent at
 * most every `throttleMs`, so a fast loop never floods the front end.
 */
import {
  forgettingFigure,
  gradNormHeatmap,
  lossFigure,
  scheduleFigure,
  train,
  type TrainEvent,
  type TrainOptions,
  type TrainResult,
  type TrainableModel,
} from "lora-lab";
import { LabWidget, packFigure } from "./lab_widget.js";
import type { DashboardAction } from "./traits.js";

export interface TrainingDashboardOptions {
  title?: string;
  /** Steps of the run, for the progress display; default the `steps` passed to `train`. */
  totalSteps?: number;
  /** Least time between two updates sent to the front end. Default 250 ms. */
  throttleMs?: number;
  /** Evaluation set whose loss is the retained (old) domain; default the last set of the eval events. */
  retainedSet?: string;
  /** Evaluation set of the new domain; default the first other set. */
  targetSet?: string;
}

/** What train() takes from the dashboard. */
export interface DashboardHooks {
  onEvent: (e: TrainEvent) => void;
  beforeStep: (step: number) => Promise<void>;
  signal: AbortSignal;
}

export type DashboardStatus = "idle" | "running" | "paused" | "stopping" | "stopped" | "done";

export class TrainingDashboard extends LabWidget {
  readonly events: TrainEvent[] = [];
  private controller = new AbortController();
  private resumeWaiters: (() => void)[] = [];
  private lastFlush = 0;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private readonly throttleMs: number;
  /** Step reached when Stop was pressed (for "stops within a step" checks). */
  stopRequestedAt: number | undefined;

  constructor(private readonly opts: TrainingDashboardOptions = {}) {
    super("TrainingDashboard", {
      title: opts.title ?? "Training",
      status: "idle",
      step: 0,
      total_steps: opts.totalSteps ?? 0,
      tokens_per_second: 0,
      last_loss: null,
      figure_loss: null,
      figure_lr: null,
      figure_grad: null,
      figure_forgetting: null,
    });
    this.throttleMs = opts.throttleMs ?? 250;
    this.onCustom((content) => this.act(content?.action));
    this.open();
  }

  get status(): DashboardStatus {
    return this.get("status");
  }

  /** Pause / resume / stop, as the buttons in the view do. */
  act(action: DashboardAction): void {
    if (action === "pause" && this.status === "running") this.set({ status: "paused" });
    else if (action === "resume" && this.status === "paused") this.release("running");
    else if (action === "stop" && (this.status === "running" || this.status === "paused")) {
      // The last step the trainer reported, not the throttled `step` trait the view shows.
      this.stopRequestedAt = this.lastStep();
      this.controller.abort(new Error("stopped from the training dashboard"));
      this.release("stopping");
    } else if (action !== "pause" && action !== "resume" && action !== "stop") {
      console.error(`TrainingDashboard: unknown action ${JSON.stringify(action)}; expected pause, resume or stop`);
    }
  }

  pause(): void {
    this.act("pause");
  }
  resume(): void {
    this.act("resume");
  }
  stop(): void {
    this.act("stop");
  }

  /** Hooks for train() (or any loop that calls them): spread into its options. */
  hooks(): DashboardHooks {
    return {
      onEvent: (e) => this.record(e),
      beforeStep: (step) => this.waitIfPaused(step),
      signal: this.controller.signal,
    };
  }

  /** Runs lora-lab's train() with the dashboard's hooks chained to the caller's own. */
  async train(model: TrainableModel, options: TrainOptions): Promise<TrainResult> {
    this.start(options.steps);
    const hooks = this.hooks();
    // Either signal stops the loop: the caller's, or the dashboard's Stop.
    if (options.signal) {
      const outer = options.signal;
      if (outer.aborted) this.controller.abort(outer.reason);
      else outer.addEventListener("abort", () => this.controller.abort(outer.reason), { once: true });
    }
    const signal = hooks.signal;
    try {
      const result = await train(model, {
        ...options,
        signal,
        onEvent: (e) => {
          hooks.onEvent(e);
          options.onEvent?.(e);
        },
        beforeStep: async (step) => {
          await hooks.beforeStep(step);
          await options.beforeStep?.(step);
        },
      });
      this.finish(result.aborted);
      return result;
    } catch (err) {
      this.finish(true);
      throw err;
    }
  }

  /** Marks a run as started (train() does this; call it when driving the hooks yourself). */
  start(totalSteps?: number): void {
    if (this.controller.signal.aborted) this.controller = new AbortController();
    this.stopRequestedAt = undefined;
    this.set({ status: "running", total_steps: this.opts.totalSteps ?? totalSteps ?? this.get("total_steps") });
  }

  finish(aborted: boolean): void {
    this.flush();
    this.set({ status: aborted ? "stopped" : "done" });
  }

  private lastStep(): number {
    for (let i = this.events.length - 1; i >= 0; i--) if (this.events[i].type === "step") return this.events[i].step;
    return 0;
  }

  private release(status: DashboardStatus): void {
    this.set({ status });
    const waiters = this.resumeWaiters;
    this.resumeWaiters = [];
    for (const w of waiters) w();
  }

  private async waitIfPaused(_step: number): Promise<void> {
    if (this.status !== "paused") return;
    this.flush();
    await new Promise<void>((resolve) => this.resumeWaiters.push(resolve));
  }

  private record(e: TrainEvent): void {
    this.events.push(e);
    const now = Date.now();
    if (now - this.lastFlush >= this.throttleMs) this.flush();
    else if (!this.timer) {
      this.timer = setTimeout(() => this.flush(), this.throttleMs - (now - this.lastFlush));
      this.timer.unref?.();
    }
  }

  /** Sends the current figures now. */
  flush(): void {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.lastFlush = Date.now();
    const steps = this.events.filter((e): e is Extract<TrainEvent, { type: "step" }> => e.type === "step");
    const evals = this.events.filter((e): e is Extract<TrainEvent, { type: "eval" }> => e.type === "eval");
    if (steps.length === 0 && evals.length === 0) return;
    const last = steps[steps.length - 1];
    this.hold(() => {
      if (last) {
        this.set({
          step: last.step,
          tokens_per_second: last.tokensPerSecond,
          last_loss: last.loss,
          figure_loss: packFigure(lossFigure(this.events, { height: 280 })),
          figure_lr: packFigure(
            scheduleFigure(
              { name: "learning rate", lr: steps.map((s) => s.lr), steps: steps.map((s) => s.step) },
              { title: "Learning rate", height: 280 },
            ),
          ),
        });
        if (Object.keys(last.gradNorms).length > 0) this.set({ figure_grad: packFigure(gradNormHeatmap(steps, { height: 320 })) });
      }
      if (evals.length > 0) {
        const sets = Object.keys(evals[0].losses);
        const retained = this.opts.retainedSet ?? sets[sets.length - 1];
        const target = this.opts.targetSet ?? sets.find((s) => s !== retained);
        const curve = {
          strategy: "this run",
          points: evals.map((e) => ({
            step: e.step,
            retainedLoss: e.losses[retained],
            ...(target ? { targetLoss: e.losses[target] } : {}),
          })),
        };
        this.set({ figure_forgetting: packFigure(forgettingFigure([curve], { height: 280 })) });
      }
    });
  }
}
