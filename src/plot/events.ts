import type { PlotEvalEvent, PlotRun, PlotStepEvent, PlotTrainEvent } from "./types.js";

/** Step events carry a numeric loss; eval events a `losses` record; anything else is skipped. */
export function isStepEvent(e: PlotTrainEvent): e is PlotStepEvent {
  return (e.type === undefined || e.type === "step") && typeof (e as PlotStepEvent).loss === "number";
}

export function isEvalEvent(e: PlotTrainEvent): e is PlotEvalEvent {
  const losses = (e as PlotEvalEvent).losses;
  return (e.type === undefined || e.type === "eval") && typeof losses === "object" && losses !== null;
}

export function stepEvents(events: readonly PlotTrainEvent[]): PlotStepEvent[] {
  return events.filter(isStepEvent).sort((a, b) => a.step - b.step);
}

export function evalEvents(events: readonly PlotTrainEvent[]): PlotEvalEvent[] {
  return events.filter(isEvalEvent).sort((a, b) => a.step - b.step);
}

/** A run, an array of runs, or a bare event stream (one unnamed run). */
export function toRuns(input: PlotRun | readonly PlotRun[] | readonly PlotTrainEvent[]): PlotRun[] {
  if (!Array.isArray(input)) return [input as PlotRun];
  const arr = input as readonly (PlotRun | PlotTrainEvent)[];
  if (arr.length === 0) return [];
  return "events" in arr[0] ? (arr as PlotRun[]) : [{ events: arr as PlotTrainEvent[] }];
}

/**
 * Exponential moving average with TensorBoard's debiasing, so the first points are not pulled
 * toward zero: s_t = w·s_{t-1} + (1-w)·x_t, shown as s_t / (1 - w^t).
 */
export function emaSmooth(values: readonly number[], weight: number): number[] {
  let s = 0;
  let n = 0;
  return values.map((x) => {
    if (!Number.isFinite(x)) return NaN;
    s = weight * s + (1 - weight) * x;
    n++;
    return s / (1 - weight ** n);
  });
}
