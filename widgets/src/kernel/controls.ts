/**
 * The standard controls, speaking @jupyter-widgets/controls 5 (model version 2.0.0) so the stock
 * widget manager renders them: sliders, dropdown, checkbox, button, text, HTML, progress.
 * Options take camelCase; the wire traits are ipywidgets' snake_case.
 */
import { Layout, Style, type StyleKind } from "./layout.js";
import { CONTROLS_MODULE, CONTROLS_VERSION } from "./traits.js";
import { Widget, type State } from "./widget.js";

export interface DomOptions {
  description?: string;
  tooltip?: string | null;
  disabled?: boolean;
  layout?: State;
}

/** A DOM control of the controls package with its own layout and style models. */
export class DomWidget extends Widget {
  readonly layout: Layout;
  readonly style: Style | undefined;

  constructor(model: string, view: string, styleKind: StyleKind | null, opts: DomOptions, state: State) {
    const layout = new Layout(opts.layout);
    const style = styleKind ? new Style(styleKind) : undefined;
    super(
      {
        modelName: `${model}Model`,
        modelModule: CONTROLS_MODULE,
        modelModuleVersion: CONTROLS_VERSION,
        viewName: `${view}View`,
        viewModule: CONTROLS_MODULE,
        viewModuleVersion: CONTROLS_VERSION,
      },
      {
        _dom_classes: [],
        layout,
        tabbable: null,
        tooltip: opts.tooltip ?? null,
        ...(style ? { style, description: opts.description ?? "", description_allow_html: false } : {}),
        ...(opts.disabled !== undefined ? { disabled: opts.disabled } : {}),
        ...state,
      },
    );
    this.layout = layout;
    this.style = style;
  }

  get description(): string {
    return this.get("description");
  }
}

/** Controls with a `value` trait. */
export class ValueWidget<T> extends DomWidget {
  get value(): T {
    return this.get<T>("value");
  }
  set value(v: T) {
    this.set({ value: v });
  }
  /** Calls `handler(newValue, oldValue)` when the value changes (dragged in a view or set here). */
  onChange(handler: (value: T, old: T) => void): this {
    return this.observe<T>("value", (c) => handler(c.new, c.old));
  }
}

export interface SliderOptions extends DomOptions {
  value?: number;
  min?: number;
  max?: number;
  step?: number;
  continuousUpdate?: boolean;
  orientation?: "horizontal" | "vertical";
  readoutFormat?: string;
}

function sliderState(o: SliderOptions, defaults: { min: number; max: number; step: number; format: string }): State {
  const min = o.min ?? defaults.min;
  const max = o.max ?? defaults.max;
  if (!(min <= max)) throw new Error(`slider: min ${min} is above max ${max}; expected min <= max`);
  return {
    value: Math.min(max, Math.max(min, o.value ?? min)),
    min,
    max,
    step: o.step ?? defaults.step,
    orientation: o.orientation ?? "horizontal",
    readout: true,
    readout_format: o.readoutFormat ?? defaults.format,
    continuous_update: o.continuousUpdate ?? true,
    disabled: o.disabled ?? false,
    behavior: "drag-tap",
  };
}

export class IntSlider extends ValueWidget<number> {
  constructor(o: SliderOptions = {}) {
    super("IntSlider", "IntSlider", "SliderStyle", o, sliderState(o, { min: 0, max: 100, step: 1, format: "d" }));
  }
}

export class FloatSlider extends ValueWidget<number> {
  constructor(o: SliderOptions = {}) {
    super("FloatSlider", "FloatSlider", "SliderStyle", o, sliderState(o, { min: 0, max: 10, step: 0.1, format: ".2f" }));
  }
}

/** A slider over exponents: `value` is base ** exponent, min / max / step are exponents. */
export class FloatLogSlider extends ValueWidget<number> {
  constructor(o: SliderOptions & { base?: number } = {}) {
    const s = sliderState({ ...o, value: undefined }, { min: 0, max: 4, step: 0.1, format: ".3g" });
    super("FloatLogSlider", "FloatLogSlider", "SliderStyle", o, {
      ...s,
      value: o.value ?? (o.base ?? 10) ** (s.min as number),
      base: o.base ?? 10,
    });
  }
}

export interface DropdownOptions<T> extends DomOptions {
  /** Options as values (label = String(value)) or [label, value] pairs. */
  options: readonly (T | readonly [string, T])[];
  value?: T;
}

/** The controls package syncs `index` and `_options_labels`; `value` is kept here. */
export class Dropdown<T = string> extends DomWidget {
  readonly labels: string[];
  readonly values: T[];

  constructor(o: DropdownOptions<T>) {
    const pairs = o.options.map((opt) => (Array.isArray(opt) ? (opt as readonly [string, T]) : ([String(opt), opt as T] as const)));
    const index = o.value === undefined ? (pairs.length ? 0 : null) : pairs.findIndex(([, v]) => v === o.value);
    if (index === -1)
      throw new Error(`Dropdown: value ${JSON.stringify(o.value)} is not an option; options are ${pairs.map(([l]) => l).join(", ")}`);
    super("Dropdown", "Dropdown", "DescriptionStyle", o, { _options_labels: pairs.map(([l]) => l), index, disabled: o.disabled ?? false });
    this.labels = pairs.map(([l]) => l);
    this.values = pairs.map(([, v]) => v);
  }

  get index(): number | null {
    return this.get("index");
  }
  get value(): T | undefined {
    const i = this.index;
    return i === null ? undefined : this.values[i];
  }
  set value(v: T | undefined) {
    const i = this.values.indexOf(v as T);
    if (i < 0) throw new Error(`Dropdown: ${JSON.stringify(v)} is not an option; options are ${this.labels.join(", ")}`);
    this.set({ index: i });
  }
  onChange(handler: (value: T | undefined) => void): this {
    return this.observe("index", () => handler(this.value));
  }
}

export class Checkbox extends ValueWidget<boolean> {
  constructor(o: DomOptions & { value?: boolean; indent?: boolean } = {}) {
    super("Checkbox", "Checkbox", "CheckboxStyle", o, { value: o.value ?? false, indent: o.indent ?? true, disabled: o.disabled ?? false });
  }
}

export type ButtonStyleName = "" | "primary" | "success" | "info" | "warning" | "danger";

/** A button; the view sends the custom message `{event: "click"}` when pressed. */
export class Button extends DomWidget {
  private readonly clickHandlers: ((b: Button) => void)[] = [];

  constructor(o: DomOptions & { icon?: string; buttonStyle?: ButtonStyleName } = {}) {
    super("Button", "Button", "ButtonStyle", o, { icon: o.icon ?? "", button_style: o.buttonStyle ?? "", disabled: o.disabled ?? false });
    this.onCustom((content) => {
      if (content?.event === "click") this.click();
    });
  }

  onClick(handler: (b: Button) => void): this {
    this.clickHandlers.push(handler);
    return this;
  }

  /** Runs the click handlers, as a press in a view does. */
  click(): void {
    for (const h of this.clickHandlers) h(this);
  }
}

export class Text extends ValueWidget<string> {
  constructor(o: DomOptions & { value?: string; placeholder?: string; continuousUpdate?: boolean } = {}) {
    super("Text", "Text", "TextStyle", o, {
      value: o.value ?? "",
      placeholder: o.placeholder ?? "\u200b",
      continuous_update: o.continuousUpdate ?? true,
      disabled: o.disabled ?? false,
    });
  }
}

export class HTML extends ValueWidget<string> {
  constructor(o: (DomOptions & { value?: string }) | string = {}) {
    const opts = typeof o === "string" ? { value: o } : o;
    super("HTML", "HTML", "HTMLStyle", opts, { value: opts.value ?? "", placeholder: "\u200b" });
  }
}

export interface ProgressOptions extends DomOptions {
  value?: number;
  min?: number;
  max?: number;
  barStyle?: "" | "success" | "info" | "warning" | "danger";
  orientation?: "horizontal" | "vertical";
}

function progressState(o: ProgressOptions, max: number): State {
  return {
    value: o.value ?? 0,
    min: o.min ?? 0,
    max: o.max ?? max,
    bar_style: o.barStyle ?? "",
    orientation: o.orientation ?? "horizontal",
  };
}

export class IntProgress extends ValueWidget<number> {
  constructor(o: ProgressOptions = {}) {
    super("IntProgress", "Progress", "ProgressStyle", o, progressState(o, 100));
  }
}

export class FloatProgress extends ValueWidget<number> {
  constructor(o: ProgressOptions = {}) {
    super("FloatProgress", "Progress", "ProgressStyle", o, progressState(o, 10));
  }
}
