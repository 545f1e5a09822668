/** RankInspector: pick a layer, see its weight update's singular values, stable and effective rank. */
import { rankSpectrumFigure, toPlotSpectra, updateRankTable, type Module, type UpdateRankRow, type WeightSnapshot } from "lora-lab";
import { LabWidget, packFigure } from "./lab_widget.js";

export interface RankInspectorOptions {
  /** Weights before training: full fine-tuning updates are W - reference; default the LoRA updates B A. */
  reference?: WeightSnapshot;
  layer?: string;
}

export class RankInspector extends LabWidget {
  private rows: UpdateRankRow[] = [];

  constructor(
    private readonly model: Module,
    private readonly opts: RankInspectorOptions = {},
  ) {
    super("RankInspector", { layers: [], layer: "", summary: "", figure: null });
    this.refresh();
    this.observe("layer", () => this.redraw());
    this.open();
  }

  /** Recomputes the spectra from the model's current weights (after more training). */
  refresh(): void {
    this.rows = updateRankTable(this.model, { reference: this.opts.reference });
    if (this.rows.length === 0)
      throw new Error(
        "RankInspector: the model has no LoRA layers; pass { reference: snapshotWeights(model) } taken before full fine-tuning to inspect W - W0",
      );
    const layers = this.rows.map((r) => label(r));
    const current = this.get<string>("layer") || this.opts.layer || layers[0];
    if (!layers.includes(current)) throw new Error(`RankInspector: no layer "${current}"; available: ${layers.join(", ")}`);
    this.hold(() => {
      this.set({ layers, layer: current });
      this.redraw();
    });
  }

  /** The selected layer's row (singular values, ranks, relative norm). */
  get value(): UpdateRankRow {
    return this.rows[this.get<string[]>("layers").indexOf(this.get("layer"))];
  }

  private redraw(): void {
    const row = this.value;
    if (!row) throw new Error(`RankInspector: no layer "${this.get("layer")}"; available: ${this.get<string[]>("layers").join(", ")}`);
    const [spectrum] = toPlotSpectra([row]);
    this.set({
      figure: packFigure(rankSpectrumFigure([spectrum], { height: 320 })),
      summary: `${label(row)}: stable rank ${row.stableRank.toFixed(2)}, effective rank ${row.effectiveRank.toFixed(2)}${row.rank ? ` (r = ${row.rank})` : ""}, ‖ΔW‖/‖W‖ ${Number.isNaN(row.relativeNorm) ? "n/a" : row.relativeNorm.toExponential(2)}`,
    });
  }
}

function label(r: UpdateRankRow): string {
  return r.adapter && r.adapter !== "default" ? `${r.module} [${r.adapter}]` : r.module;
}
