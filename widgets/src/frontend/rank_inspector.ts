/** RankInspector: pick a layer, see its update's singular values and ranks. */
import { el, select } from "./dom.js";
import { figureSerializers, LabModel, LabView, labModelDefaults } from "./lab_model.js";

export class RankInspectorModel extends LabModel {
  override defaults() {
    return { ...super.defaults(), ...labModelDefaults("RankInspector", { layers: [], layer: "", summary: "", figure: null }) };
  }
  static override serializers = { ...LabModel.serializers, ...figureSerializers("RankInspector") };
}

export class RankInspectorView extends LabView {
  override render(): void {
    super.render();
    const m = this.model;
    let layer = select("layer", m.get("layers"), m.get("layer"), "layer", (v) => this.push({ layer: v }));
    const controls = el("div", { class: "lora-lab-controls" }, layer.root);
    const summary = el("div", { class: "lora-lab-summary", "data-trait": "summary" }, m.get("summary"));
    const plot = el("div", { class: "lora-lab-plot", "data-figure": "figure" });
    this.el.append(controls, summary, plot);
    this.bindFigure("figure", plot);
    this.listenTo(m, "change:layers", () => {
      const next = select("layer", m.get("layers"), m.get("layer"), "layer", (v) => this.push({ layer: v }));
      layer.root.replaceWith(next.root);
      layer = next;
    });
    this.listenTo(m, "change", () => {
      layer.input.value = m.get("layer");
      summary.textContent = m.get("summary");
    });
  }
}
