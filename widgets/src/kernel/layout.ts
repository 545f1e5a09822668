/** Layout and style models: every DOM control of @jupyter-widgets/controls 5 references one of each. */
import { BASE_MODULE, BASE_VERSION, CONTROLS_MODULE, CONTROLS_VERSION } from "./traits.js";
import { Widget, type State } from "./widget.js";

const LAYOUT_TRAITS = [
  "align_content",
  "align_items",
  "align_self",
  "border_bottom",
  "border_left",
  "border_right",
  "border_top",
  "bottom",
  "display",
  "flex",
  "flex_flow",
  "grid_area",
  "grid_auto_columns",
  "grid_auto_flow",
  "grid_auto_rows",
  "grid_column",
  "grid_gap",
  "grid_row",
  "grid_template_areas",
  "grid_template_columns",
  "grid_template_rows",
  "height",
  "justify_content",
  "justify_items",
  "left",
  "margin",
  "max_height",
  "max_width",
  "min_height",
  "min_width",
  "object_fit",
  "object_position",
  "order",
  "overflow",
  "padding",
  "right",
  "top",
  "visibility",
  "width",
];

/** CSS of a widget's box, as ipywidgets' Layout (snake_case keys: `{ width: "300px" }`). */
export class Layout extends Widget {
  constructor(css: State = {}) {
    const state: State = Object.fromEntries(LAYOUT_TRAITS.map((k) => [k, null]));
    super(
      {
        modelName: "LayoutModel",
        modelModule: BASE_MODULE,
        modelModuleVersion: BASE_VERSION,
        viewName: "LayoutView",
        viewModule: BASE_MODULE,
        viewModuleVersion: BASE_VERSION,
      },
      { ...state, ...css },
    );
  }
}

export type StyleKind = "DescriptionStyle" | "SliderStyle" | "CheckboxStyle" | "ButtonStyle" | "TextStyle" | "HTMLStyle" | "ProgressStyle";

const STYLE_DEFAULTS: Record<StyleKind, State> = {
  DescriptionStyle: { description_width: "" },
  SliderStyle: { description_width: "", handle_color: null },
  CheckboxStyle: { description_width: "", background: null },
  ButtonStyle: {
    button_color: null,
    font_family: null,
    font_size: null,
    font_style: null,
    font_variant: null,
    font_weight: null,
    text_color: null,
    text_decoration: null,
  },
  TextStyle: { description_width: "", background: null, font_size: null, text_color: null },
  HTMLStyle: { description_width: "", background: null, font_size: null, text_color: null },
  ProgressStyle: { description_width: "", bar_color: null },
};

/** A style model; its view is the base module's StyleView, as the controls package expects. */
export class Style extends Widget {
  constructor(kind: StyleKind, values: State = {}) {
    super(
      {
        modelName: `${kind}Model`,
        modelModule: CONTROLS_MODULE,
        modelModuleVersion: CONTROLS_VERSION,
        viewName: "StyleView",
        viewModule: BASE_MODULE,
        viewModuleVersion: BASE_VERSION,
      },
      { ...STYLE_DEFAULTS[kind], ...values },
    );
  }
}
