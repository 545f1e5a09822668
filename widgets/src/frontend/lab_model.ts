/** Shared base of lora-lab's widget models and views on @jupyter-widgets/base. */
import { DOMWidgetModel, DOMWidgetView } from "@jupyter-widgets/base";
import { figureTraits, LAB_MODULE, LAB_VERSION, TRAITS, type LabWidgetName } from "../kernel/traits.js";
import { ensureStyle } from "./dom.js";
import { drawFigure, figureSerializer, type Figure } from "./plot.js";

export function labDefaults(name: string): Record<string, unknown> {
  return {
    _model_name: `${name}Model`,
    _model_module: LAB_MODULE,
    _model_module_version: LAB_VERSION,
    _view_name: `${name}View`,
    _view_module: LAB_MODULE,
    _view_module_version: LAB_VERSION,
  };
}

/**
 * A model's defaults: the module names, then `values` for exactly the traits declared in TRAITS
 * (an unknown or missing name is a programming error, reported at load time).
 */
export function labModelDefaults(name: LabWidgetName, values: Record<string, unknown>): Record<string, unknown> {
  const declared: readonly string[] = TRAITS[name];
  const extra = Object.keys(values).filter((k) => !declared.includes(k));
  const missing = declared.filter((k) => !(k in values));
  if (extra.length || missing.length)
    throw new Error(
      `${name}Model defaults: undeclared traits [${extra.join(", ")}], missing [${missing.join(", ")}]; TRAITS.${name} lists ${declared.join(", ")}`,
    );
  return { ...labDefaults(name), ...values };
}

/** Serializers for a widget's figure traits. */
export function figureSerializers(name: LabWidgetName): Record<string, typeof figureSerializer> {
  return Object.fromEntries(figureTraits(name).map((t) => [t, figureSerializer]));
}

export class LabModel extends DOMWidgetModel {}

export class LabView extends DOMWidgetView {
  /** Draws the figure trait `trait` into `target` now (once displayed) and whenever it changes. */
  protected bindFigure(trait: string, target: HTMLElement): void {
    const draw = () => drawFigure(target, this.model.get(trait) as Figure | null);
    this.displayed.then(draw);
    this.listenTo(this.model, `change:${trait}`, draw);
  }

  /** Sets traits and sends them to the kernel. */
  protected push(patch: Record<string, unknown>): void {
    this.model.set(patch);
    this.touch();
  }

  override render(): void {
    ensureStyle();
    this.el.classList.add("lora-lab-widget");
  }
}
