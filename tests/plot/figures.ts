// Every builder applied to the sample inputs: what the report and the browser test render.
import {
  forgettingFigure,
  gradNormHeatmap,
  layerPlanFigure,
  learnForgetFigure,
  lossFigure,
  memoryFigure,
  quantErrorFigure,
  rankSpectrumFigure,
  scheduleFigure,
  type PlotFigure,
} from "../../src/plot/index.js";
import * as fx from "./fixtures.js";

export function allFigures(): Record<string, PlotFigure> {
  return {
    schedule: scheduleFigure(fx.schedules),
    loss: lossFigure(fx.runs),
    "loss-single": lossFigure(fx.runs[0].events, { title: "Loss of one run" }),
    "grad-norm-modules": gradNormHeatmap(fx.runs[0].events),
    "grad-norm-layers": gradNormHeatmap(fx.runs[0].events, { groupBy: "layer" }),
    forgetting: forgettingFigure(fx.forgettingCurves),
    "learn-forget": learnForgetFigure(fx.learnForgetPoints),
    "rank-spectrum": rankSpectrumFigure(fx.spectra),
    "layer-plan": layerPlanFigure(fx.layerPlan),
    quant: quantErrorFigure({
      codebooks: fx.codebooks,
      normalizedWeights: fx.normalizedWeights(16384),
      errors: fx.quantErrors,
      errorTitle: "mean |w − dequant(w)| (weight units)",
    }),
    memory: memoryFigure(fx.memoryBars),
  };
}
