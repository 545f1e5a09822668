/** ScheduleExplorer: pick a schedule and its warmup, peak LR, steps and cycles; the curve redraws. */
import { getScheduler, scheduleFigure, SCHEDULER_NAMES, type LrSchedule, type SchedulerName } from "lora-lab";
import { LabWidget, packFigure } from "./lab_widget.js";

export interface ScheduleExplorerOptions {
  scheduleType?: SchedulerName;
  warmupSteps?: number;
  peakLr?: number;
  numTrainingSteps?: number;
  numCycles?: number;
}

/** What the explorer's settings mean to `train()`: spread it into the options. */
export interface ScheduleChoice {
  scheduler: SchedulerName;
  lr: number;
  steps: number;
  numWarmupSteps: number;
  schedulerOptions: { numCycles: number };
}

const INPUTS = ["schedule_type", "warmup_steps", "peak_lr", "num_training_steps", "num_cycles"];

export class ScheduleExplorer extends LabWidget {
  constructor(o: ScheduleExplorerOptions = {}) {
    const type = o.scheduleType ?? "cosine";
    if (!SCHEDULER_NAMES.includes(type))
      throw new Error(`ScheduleExplorer: unknown schedule "${type}"; available: ${SCHEDULER_NAMES.join(", ")}`);
    super("ScheduleExplorer", {
      schedule_type: type,
      schedule_types: [...SCHEDULER_NAMES],
      warmup_steps: o.warmupSteps ?? 100,
      peak_lr: o.peakLr ?? 2e-4,
      num_training_steps: o.numTrainingSteps ?? 1000,
      num_cycles: o.numCycles ?? (type === "cosine_with_restarts" ? 1 : 0.5),
      figure: null,
    });
    this.redraw();
    this.observe(INPUTS, () => this.redraw());
    this.open();
  }

  get value(): ScheduleChoice {
    return {
      scheduler: this.get("schedule_type"),
      lr: this.get("peak_lr"),
      steps: this.get("num_training_steps"),
      numWarmupSteps: this.get("warmup_steps"),
      schedulerOptions: { numCycles: this.get("num_cycles") },
    };
  }

  /** step -> learning rate (the peak LR times the schedule's multiplier). */
  schedule(): LrSchedule {
    const v = this.value;
    const f = getScheduler(v.scheduler, {
      numWarmupSteps: v.numWarmupSteps,
      numTrainingSteps: v.steps,
      numCycles: v.schedulerOptions.numCycles,
      lr: v.lr,
    });
    return (step) => v.lr * f(step);
  }

  private redraw(): void {
    const v = this.value;
    const lr = this.schedule();
    const figure = scheduleFigure({ name: v.scheduler, lr, numTrainingSteps: v.steps, warmupSteps: v.numWarmupSteps }, { height: 320 });
    this.set({ figure: packFigure(figure) });
  }
}
