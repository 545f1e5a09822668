/** lora-lab-widgets: models and views of lora-lab's notebook widgets, on @jupyter-widgets/base. */
export { LAB_MODULE as MODULE_NAME, LAB_VERSION as MODULE_VERSION } from "../kernel/traits.js";
export { ScheduleExplorerModel, ScheduleExplorerView } from "./schedule_explorer.js";
export { QuantExplorerModel, QuantExplorerView } from "./quant_explorer.js";
export { RankInspectorModel, RankInspectorView } from "./rank_inspector.js";
export { LoraConfiguratorModel, LoraConfiguratorView } from "./lora_configurator.js";
export { TrainingDashboardModel, TrainingDashboardView } from "./training_dashboard.js";
