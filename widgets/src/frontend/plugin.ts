/** JupyterLab 4 plugin: registers the lora-lab-widgets module with the widget manager. */
import { IJupyterWidgetRegistry } from "@jupyter-widgets/base";
import { LAB_MODULE, LAB_VERSION } from "../kernel/traits.js";
import * as widgets from "./index.js";

export default {
  id: "lora-lab-widgets:plugin",
  requires: [IJupyterWidgetRegistry],
  autoStart: true,
  activate: (_app: unknown, registry: { registerWidget(w: { name: string; version: string; exports: unknown }): void }) => {
    registry.registerWidget({ name: LAB_MODULE, version: LAB_VERSION, exports: widgets });
  },
};
