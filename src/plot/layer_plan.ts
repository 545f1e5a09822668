import type { Data } from "plotly.js";
import { axis, baseLayout, formatCount, PLOT_ROLE_COLORS } from "./theme.js";
import type { PlotFigure, PlotLayerPlanRow, PlotLayerRole } from "./types.js";

export interface LayerPlanFigureOptions {
  title?: string;
  height?: number;
}

const ROLE_CODE: Record<PlotLayerRole, number> = { frozen: 0, lora: 1, full: 2 };
const ROLE_NAME: Record<PlotLayerRole, string> = { frozen: "frozen", lora: "LoRA", full: "fully trainable" };

function layerLabel(layer: number | string): string {
  return typeof layer === "number" ? `layer ${layer}` : layer;
}

function cellText(row: PlotLayerPlanRow): string {
  if (row.role === "frozen") return "frozen";
  const params = formatCount(row.trainableParams, true);
  if (row.role === "full") return `full<br>${params}`;
  // Alpha is in the hover: the cell has room for two short lines.
  return `${row.rank !== undefined ? `LoRA r=${row.rank}` : "LoRA"}<br>${params}`;
}

/**
 * The model as its stack of layers (input at the bottom) and modules, each block coloured frozen /
 * LoRA / fully trainable and labelled with its rank and trainable parameters; a bar per layer on
 * the right sums what trains. The article's plan tables, as a picture.
 */
export function layerPlanFigure(rows: readonly PlotLayerPlanRow[], opts: LayerPlanFigureOptions = {}): PlotFigure {
  if (rows.length === 0) throw new Error("layerPlanFigure: the plan has no rows");
  for (const r of rows) {
    if (!(r.role in ROLE_CODE))
      throw new Error(`layerPlanFigure: role "${r.role}" of ${layerLabel(r.layer)} is not one of frozen, lora, full`);
  }
  const layers = [...new Set(rows.map((r) => layerLabel(r.layer)))];
  const modules = [...new Set(rows.map((r) => r.module ?? "whole layer"))];
  const cell = (l: string, m: string) => rows.find((r) => layerLabel(r.layer) === l && (r.module ?? "whole layer") === m);
  const z = layers.map((l) =>
    modules.map((m) => {
      const r = cell(l, m);
      return r ? ROLE_CODE[r.role] : null;
    }),
  );
  const text = layers.map((l) =>
    modules.map((m) => {
      const r = cell(l, m);
      return r ? cellText(r) : "";
    }),
  );
  const hover = layers.map((l) =>
    modules.map((m) => {
      const r = cell(l, m);
      if (!r) return "";
      const total = r.totalParams !== undefined ? ` of ${formatCount(r.totalParams)}` : "";
      return `${ROLE_NAME[r.role]}${r.rank !== undefined ? `, r=${r.rank}` : ""}${r.alpha !== undefined ? `, α=${r.alpha}` : ""}<br>trainable ${formatCount(r.trainableParams)}${total}`;
    }),
  );
  const { frozen, lora, full } = PLOT_ROLE_COLORS;
  const perLayer = layers.map((l) => rows.filter((r) => layerLabel(r.layer) === l).reduce((s, r) => s + r.trainableParams, 0));
  const data: Data[] = [
    {
      type: "heatmap",
      x: modules,
      y: layers,
      z,
      zmin: 0,
      zmax: 2,
      text: text as unknown as string[],
      customdata: hover as unknown as string[][],
      texttemplate: "%{text}",
      textfont: { size: modules.length > 4 ? 10 : 12 },
      colorscale: [
        [0, frozen],
        [1 / 3, frozen],
        [1 / 3, lora],
        [2 / 3, lora],
        [2 / 3, full],
        [1, full],
      ],
      colorbar: {
        tickvals: [1 / 3, 1, 5 / 3],
        ticktext: ["frozen", "LoRA", "fully<br>trainable"],
        thickness: 14,
        len: 0.5,
        y: 1,
        yanchor: "top",
        x: 1.02,
      },
      xgap: 3,
      ygap: 3,
      hovertemplate: "%{y} · %{x}<br>%{customdata}<extra></extra>",
      showscale: true,
    },
    {
      type: "bar",
      orientation: "h",
      x: perLayer.map((v) => (v > 0 ? v : null)),
      y: layers,
      xaxis: "x2",
      yaxis: "y",
      text: perLayer.map((v) => formatCount(v, true)),
      textposition: "outside",
      cliponaxis: false,
      marker: {
        color: layers.map((l) => {
          const roles = rows.filter((r) => layerLabel(r.layer) === l).map((r) => r.role);
          return roles.includes("full") ? full : roles.includes("lora") ? lora : frozen;
        }),
      },
      hovertemplate: "%{y}<br>trainable %{x:,} parameters<extra></extra>",
      showlegend: false,
    },
  ];
  const trainable = rows.reduce((s, r) => s + r.trainableParams, 0);
  const haveTotals = rows.every((r) => r.totalParams !== undefined);
  const total = haveTotals ? rows.reduce((s, r) => s + r.totalParams!, 0) : undefined;
  const summary =
    total !== undefined && total > 0
      ? `trainable params: ${formatCount(trainable)} of ${formatCount(total)} (${((100 * trainable) / total).toFixed(trainable / total < 0.01 ? 4 : 2)}%)`
      : `trainable params: ${formatCount(trainable)}`;
  return {
    data,
    layout: baseLayout(
      { title: opts.title ?? "Layer plan", subtitle: summary, height: opts.height ?? Math.max(320, 140 + 42 * layers.length) },
      {
        xaxis: axis("module", { domain: [0, 0.66], side: "bottom", showgrid: false, type: "category" }),
        yaxis: axis("layer (input at the bottom)", { showgrid: false, type: "category" }),
        xaxis2: axis("trainable parameters (log scale)", {
          domain: [0.74, 0.96],
          anchor: "y",
          type: "log",
          dtick: 1,
          exponentformat: "SI",
        }),
        showlegend: false,
      },
    ),
  };
}
