/**
 * Base of lora-lab's own widgets: model and view in the `lora-lab-widgets` module, Plotly figures
 * as traits whose number arrays travel as binary buffers (Float64Array), not JSON.
 */
import { LAB_MODULE, LAB_VERSION } from "./traits.js";
import { Widget, type State } from "./widget.js";

/** Arrays this long or longer that hold only numbers go as buffers. */
const MIN_PACKED = 8;

function packArray(value: unknown[]): unknown {
  if (value.length >= MIN_PACKED && value.every((v) => typeof v === "number")) return Float64Array.from(value as number[]);
  return value.map(packValue);
}

function packValue(value: unknown): unknown {
  if (Array.isArray(value)) return packArray(value);
  if (value !== null && typeof value === "object" && !ArrayBuffer.isView(value)) {
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, packValue(v)]));
  }
  return value;
}

/** A Plotly figure with its long number arrays (x, y, z rows, ...) as Float64Array. */
export function packFigure<F extends object>(figure: F): F {
  return packValue(figure) as F;
}

/** Subclasses compute their figures, then call `this.open()` at the end of their constructor. */
export class LabWidget extends Widget {
  constructor(name: string, state: State) {
    super(
      {
        modelName: `${name}Model`,
        modelModule: LAB_MODULE,
        modelModuleVersion: LAB_VERSION,
        viewName: `${name}View`,
        viewModule: LAB_MODULE,
        viewModuleVersion: LAB_VERSION,
      },
      { _dom_classes: [], layout: null, tabbable: null, tooltip: null, ...state },
      true,
    );
  }
}
