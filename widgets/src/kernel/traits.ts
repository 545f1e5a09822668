/**
 * Names on the wire, declared once: the kernel side (this folder) and the front end
 * (widgets/src/frontend, bundled by esbuild) both import them. Trait names are snake_case as in
 * ipywidgets; module names and versions are what models declare and managers load.
 */
export const WIDGET_TARGET = "jupyter.widget";
export const CONTROL_TARGET = "jupyter.widget.control";
export const PROTOCOL_VERSION = "2.1.0";
export const WIDGET_VIEW_MIME = "application/vnd.jupyter.widget-view+json";

export const CONTROLS_MODULE = "@jupyter-widgets/controls";
export const CONTROLS_VERSION = "2.0.0";
export const BASE_MODULE = "@jupyter-widgets/base";
export const BASE_VERSION = "2.0.0";
export const OUTPUT_MODULE = "@jupyter-widgets/output";
export const OUTPUT_VERSION = "1.0.0";

/** lora-lab's own widgets: the AMD module `lora-lab-widgets@<version>/dist/index.js`, the labextension's name. */
export const LAB_MODULE = "lora-lab-widgets";
export const LAB_VERSION = "0.1.0";

/**
 * Traits of lora-lab's custom widgets, by widget: the kernel side sends exactly these (plus the
 * _model_* / _view_* / layout keys), the front end's models default and deserialize them.
 * `figure*` traits hold Plotly figures whose number arrays travel as binary buffers.
 */
export const TRAITS = {
  ScheduleExplorer: ["schedule_type", "schedule_types", "warmup_steps", "peak_lr", "num_training_steps", "num_cycles", "figure"],
  QuantExplorer: ["quant_type", "quant_types", "blocksize", "blocksizes", "double_quant", "summary", "figure"],
  RankInspector: ["layers", "layer", "summary", "figure"],
  LoraConfigurator: [
    "groups",
    "roles",
    "ranks",
    "alphas",
    "target_modules",
    "available_modules",
    "embeddings",
    "head",
    "trainable_params",
    "total_params",
    "figure",
  ],
  TrainingDashboard: [
    "title",
    "status",
    "step",
    "total_steps",
    "tokens_per_second",
    "last_loss",
    "figure_loss",
    "figure_lr",
    "figure_grad",
    "figure_forgetting",
  ],
} as const;

export type LabWidgetName = keyof typeof TRAITS;

/** The figure traits of a widget (drawn with Plotly, deserialized from buffers). */
export function figureTraits(name: LabWidgetName): string[] {
  return (TRAITS[name] as readonly string[]).filter((t) => t.startsWith("figure"));
}

/** Custom messages a dashboard's view sends: `{ action }`. */
export const DASHBOARD_ACTIONS = ["pause", "resume", "stop"] as const;
export type DashboardAction = (typeof DASHBOARD_ACTIONS)[number];
