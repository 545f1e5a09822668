import { describe, expect, it } from "vitest";
import { retentionRecord, trackRetention } from "../../src/forgetting/index.js";
import { forgettingFigure, retentionCurves } from "../../src/plot/index.js";

type Trace = { name: string; x: number[]; y: number[]; xaxis?: string; showlegend?: boolean };
const traces = (f: { data: unknown[] }) => f.data as Trace[];

/** A tracker fed eval events by hand: the numbers below are what the figure must show. */
function tracker() {
  const model = { loss: () => undefined as never, train: () => undefined };
  const t = trackRetention(model, {
    sets: { domain: [], press: [], fiction: [] },
    baseline: { domain: 3, press: 2, fiction: 2.5 },
    retained: ["press", "fiction"],
  });
  t.onEvent({ type: "eval", step: 10, losses: { domain: 2.5, press: 2.25, fiction: 2.5 }, perplexities: {} });
  t.onEvent({ type: "eval", step: 20, losses: { domain: 2, press: 2.5, fiction: 2.375 }, perplexities: {} });
  return t;
}

describe("forgettingFigure(tracker | tracker.history)", () => {
  it("plots a tracker as it is: one curve per retained set from the step-0 baseline, the new domain in the second panel", () => {
    const t = tracker();
    const [press, domain, fiction] = traces(forgettingFigure(t, { strategy: "LoRA" }));
    expect(press).toMatchObject({ name: "LoRA: press", x: [0, 10, 20], y: [0, 0.25, 0.5] });
    expect(domain).toMatchObject({ name: "LoRA: press", xaxis: "x2", showlegend: false, x: [0, 10, 20], y: [3, 2.5, 2] });
    expect(fiction).toMatchObject({ name: "LoRA: fiction", x: [0, 10, 20], y: [0, 0, -0.125] });
    expect(traces(forgettingFigure(t))).toHaveLength(3);
    expect(forgettingFigure(t.history)).toEqual(forgettingFigure(t));
    // The retained loss itself, on request.
    expect(traces(forgettingFigure(t, { metric: "retainedLoss" }))[0].y).toEqual([2, 2.25, 2.5]);
  });

  it("names a single retained set's curve after the run, and has no second panel without exactly one other set", () => {
    const history = [
      retentionRecord({ step: 0, losses: { old: 4 } }, { old: 4 }, ["old"]),
      retentionRecord({ step: 3, losses: { old: 4.5 } }, { old: 4 }, ["old"]),
    ];
    expect(retentionCurves(history)).toEqual([
      {
        strategy: "training",
        baselineLoss: 4,
        points: [
          { step: 0, retainedLoss: 4 },
          { step: 3, retainedLoss: 4.5 },
        ],
      },
    ]);
    const f = forgettingFigure(history);
    expect(traces(f).map((t) => [t.name, t.y])).toEqual([["training", [0, 0.5]]]);
    expect(f.layout).not.toHaveProperty("xaxis2");
  });

  it("takes the baseline from the records (loss - forgetting), so a history without step 0 still measures from the base", () => {
    const history = [retentionRecord({ step: 5, losses: { old: 4.5, new: 1 } }, { old: 4 }, ["old"])];
    expect(traces(forgettingFigure(history))[0].y).toEqual([0.5]);
  });

  it("still takes curves, and names an empty or retention-less history", () => {
    const curve = { strategy: "a", points: [{ step: 0, retainedLoss: 3 }] };
    expect(traces(forgettingFigure([curve]))[0].name).toBe("a");
    expect(() => forgettingFigure([])).toThrow("forgettingFigure: no strategies given");
    expect(() => forgettingFigure({ history: [] })).toThrow("forgettingFigure: the retention history is empty");
    expect(() => forgettingFigure([{ step: 1, losses: { a: 1 }, forgetting: {} }])).toThrow(
      "forgettingFigure: the retention history (1 records) has no retained set with forgetting values",
    );
  });
});
