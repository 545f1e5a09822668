/** ScheduleExplorer: type, warmup, peak LR, steps and cycles; the kernel redraws the curve as you drag. */
import { el, range, select } from "./dom.js";
import { figureSerializers, LabModel, LabView, labModelDefaults } from "./lab_model.js";

export class ScheduleExplorerModel extends LabModel {
  override defaults() {
    return {
      ...super.defaults(),
      ...labModelDefaults("ScheduleExplorer", {
        schedule_type: "cosine",
        schedule_types: [],
        warmup_steps: 0,
        peak_lr: 1e-3,
        num_training_steps: 100,
        num_cycles: 0.5,
        figure: null,
      }),
    };
  }
  static override serializers = { ...LabModel.serializers, ...figureSerializers("ScheduleExplorer") };
}

export class ScheduleExplorerView extends LabView {
  override render(): void {
    super.render();
    const m = this.model;
    const type = select("schedule", m.get("schedule_types"), m.get("schedule_type"), "schedule_type", (v) =>
      this.push({ schedule_type: v }),
    );
    const steps = range("steps", { min: 10, max: 10000, step: 10, value: m.get("num_training_steps"), name: "num_training_steps" }, (v) =>
      this.push({ num_training_steps: v, warmup_steps: Math.min(m.get("warmup_steps"), v) }),
    );
    const warmup = range("warmup", { min: 0, max: 2000, step: 1, value: m.get("warmup_steps"), name: "warmup_steps" }, (v) =>
      this.push({ warmup_steps: Math.min(v, m.get("num_training_steps")) }),
    );
    const lr = range(
      "peak LR",
      { min: -6, max: -1, step: 0.05, value: Math.log10(m.get("peak_lr")), format: (v) => (10 ** v).toExponential(1), name: "peak_lr" },
      (v) => this.push({ peak_lr: Number((10 ** v).toPrecision(3)) }),
    );
    const cycles = range("cycles", { min: 0.5, max: 8, step: 0.5, value: m.get("num_cycles"), name: "num_cycles" }, (v) =>
      this.push({ num_cycles: v }),
    );
    const plot = el("div", { class: "lora-lab-plot", "data-figure": "figure" });
    this.el.append(el("div", { class: "lora-lab-controls" }, type.root, steps.root, warmup.root, lr.root, cycles.root), plot);
    this.bindFigure("figure", plot);
    this.listenTo(m, "change", () => {
      type.input.value = m.get("schedule_type");
      steps.set(m.get("num_training_steps"));
      warmup.set(m.get("warmup_steps"));
      lr.set(Math.log10(m.get("peak_lr")));
      cycles.set(m.get("num_cycles"));
    });
  }
}
