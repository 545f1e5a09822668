/** TrainingDashboard: live figures, step and tokens/s, and Pause / Resume / Stop sent to the kernel. */
import { el } from "./dom.js";
import { figureSerializers, LabModel, LabView, labModelDefaults } from "./lab_model.js";
import { figureTraits, type DashboardAction } from "../kernel/traits.js";

const FIGURES = figureTraits("TrainingDashboard");

export class TrainingDashboardModel extends LabModel {
  override defaults() {
    return {
      ...super.defaults(),
      ...labModelDefaults("TrainingDashboard", {
        title: "Training",
        status: "idle",
        step: 0,
        total_steps: 0,
        tokens_per_second: 0,
        last_loss: null,
        figure_loss: null,
        figure_lr: null,
        figure_grad: null,
        figure_forgetting: null,
      }),
    };
  }
  static override serializers = { ...LabModel.serializers, ...figureSerializers("TrainingDashboard") };
}

export class TrainingDashboardView extends LabView {
  override render(): void {
    super.render();
    const m = this.model;
    const button = (action: DashboardAction, label: string) => {
      const b = el("button", { "data-action": action }, label);
      b.addEventListener("click", () => this.send({ action }));
      return b;
    };
    const pause = button("pause", "Pause");
    const resume = button("resume", "Resume");
    const stop = button("stop", "Stop");
    const status = el("span", { class: "lora-lab-summary", "data-trait": "status" });
    const show = () => {
      const loss = m.get("last_loss");
      const total = m.get("total_steps");
      status.textContent = `${m.get("status")} · step ${m.get("step")}${total ? ` / ${total}` : ""} · ${Math.round(m.get("tokens_per_second"))} tokens/s${loss === null ? "" : ` · loss ${Number(loss).toFixed(4)}`}`;
      const s = m.get("status");
      pause.disabled = s !== "running";
      resume.disabled = s !== "paused";
      stop.disabled = s !== "running" && s !== "paused";
    };
    show();
    const plots = FIGURES.map((f) =>
      el("div", { class: f === "figure_forgetting" ? "lora-lab-plot lora-lab-wide" : "lora-lab-plot", "data-figure": f }),
    );
    this.el.append(
      el("div", { class: "lora-lab-controls lora-lab-buttons" }, el("strong", {}, m.get("title")), pause, resume, stop, status),
      el("div", { class: "lora-lab-grid" }, ...plots),
    );
    FIGURES.forEach((f, i) => this.bindFigure(f, plots[i]));
    this.listenTo(m, "change", show);
  }
}
