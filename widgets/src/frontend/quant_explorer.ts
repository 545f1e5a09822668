/** QuantExplorer: quant type, blocksize, double quant -> code points over the weights, and the error. */
import { checkbox, el, select } from "./dom.js";
import { figureSerializers, LabModel, LabView, labModelDefaults } from "./lab_model.js";

export class QuantExplorerModel extends LabModel {
  override defaults() {
    return {
      ...super.defaults(),
      ...labModelDefaults("QuantExplorer", {
        quant_type: "nf4",
        quant_types: [],
        blocksize: 64,
        blocksizes: [],
        double_quant: false,
        summary: "",
        figure: null,
      }),
    };
  }
  static override serializers = { ...LabModel.serializers, ...figureSerializers("QuantExplorer") };
}

export class QuantExplorerView extends LabView {
  override render(): void {
    super.render();
    const m = this.model;
    const type = select("quant type", m.get("quant_types"), m.get("quant_type"), "quant_type", (v) => this.push({ quant_type: v }));
    const block = select("blocksize", m.get("blocksizes").map(String), String(m.get("blocksize")), "blocksize", (v) =>
      this.push({ blocksize: Number(v) }),
    );
    const dq = checkbox("double quant", m.get("double_quant"), "double_quant", (v) => this.push({ double_quant: v }));
    const summary = el("div", { class: "lora-lab-summary", "data-trait": "summary" }, m.get("summary"));
    const plot = el("div", { class: "lora-lab-plot", "data-figure": "figure" });
    this.el.append(el("div", { class: "lora-lab-controls" }, type.root, block.root, dq.root), summary, plot);
    this.bindFigure("figure", plot);
    this.listenTo(m, "change", () => {
      type.input.value = m.get("quant_type");
      block.input.value = String(m.get("blocksize"));
      dq.input.checked = m.get("double_quant");
      summary.textContent = m.get("summary");
    });
  }
}
