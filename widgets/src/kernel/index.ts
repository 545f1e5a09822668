/**
 * lora-lab/widgets, kernel side: Jupyter widgets over the `jupyter.widget` comm target (protocol
 * 2.1.0), the standard controls of @jupyter-widgets/controls, and lora-lab's own widgets whose
 * views (module "lora-lab-widgets") draw with plotly.js.
 */
export { Widget } from "./widget.js";
export type { State, TraitChange, WidgetSpec } from "./widget.js";
export { commManager, removeBuffers, putBuffers, float64, COMMS_KEY, DISPLAY_KEY } from "./comm.js";
export type { Comm, CommManager, CommMsg, BufferLike, DisplayHook, DisplayContent } from "./comm.js";
export { allStates, liveWidgets, widgetById } from "./registry.js";
export type { LiveWidget } from "./registry.js";
export { Layout, Style } from "./layout.js";
export {
  DomWidget,
  ValueWidget,
  IntSlider,
  FloatSlider,
  FloatLogSlider,
  Dropdown,
  Checkbox,
  Button,
  Text,
  HTML,
  IntProgress,
  FloatProgress,
} from "./controls.js";
export type { DomOptions, SliderOptions, DropdownOptions, ProgressOptions, ButtonStyleName } from "./controls.js";
export { Box, HBox, VBox, Tab, Output } from "./containers.js";
export type { OutputItem } from "./containers.js";
export { LabWidget, packFigure } from "./lab_widget.js";
export { ScheduleExplorer } from "./schedule_explorer.js";
export type { ScheduleExplorerOptions, ScheduleChoice } from "./schedule_explorer.js";
export { QuantExplorer, normalWeights } from "./quant_explorer.js";
export type { QuantExplorerOptions, QuantReport } from "./quant_explorer.js";
export { RankInspector } from "./rank_inspector.js";
export type { RankInspectorOptions } from "./rank_inspector.js";
export { LoraConfigurator, PLAN_ROLES } from "./lora_configurator.js";
export type { LoraConfiguratorOptions } from "./lora_configurator.js";
export { TrainingDashboard } from "./training_dashboard.js";
export type { TrainingDashboardOptions, DashboardHooks, DashboardStatus } from "./training_dashboard.js";
export { display } from "./display.js";
export { installLabextension, installWidgetFrontend, labextensionSource, amdBundleSource } from "./install.js";
export type { InstalledFrontend } from "./install.js";
export * from "./traits.js";
