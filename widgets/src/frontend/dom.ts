/** Small DOM controls the custom views are built from (labelled range, select, checkbox, button). */

export function el<K extends keyof HTMLElementTagNameMap>(
  tag: K,
  attrs: Record<string, string> = {},
  ...children: (Node | string)[]
): HTMLElementTagNameMap[K] {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) node.setAttribute(k, v);
  for (const c of children) node.append(c);
  return node;
}

export interface RangeControl {
  root: HTMLElement;
  input: HTMLInputElement;
  set(value: number): void;
}

/** A labelled range input; `onInput` fires while dragging. */
export function range(
  label: string,
  o: { min: number; max: number; step: number; value: number; format?: (v: number) => string; name: string },
  onInput: (v: number) => void,
): RangeControl {
  const fmt = o.format ?? ((v: number) => String(v));
  const input = el("input", { type: "range", min: String(o.min), max: String(o.max), step: String(o.step), "data-trait": o.name });
  input.value = String(o.value);
  const readout = el("span", { class: "lora-lab-readout" }, fmt(o.value));
  input.addEventListener("input", () => {
    readout.textContent = fmt(Number(input.value));
    onInput(Number(input.value));
  });
  const root = el("label", { class: "lora-lab-control" }, el("span", { class: "lora-lab-label" }, label), input, readout);
  return {
    root,
    input,
    set(v: number) {
      input.value = String(v);
      readout.textContent = fmt(v);
    },
  };
}

export function select(
  label: string,
  options: string[],
  value: string,
  name: string,
  onChange: (v: string) => void,
): { root: HTMLElement; input: HTMLSelectElement } {
  const input = el("select", { "data-trait": name });
  for (const o of options) input.append(el("option", { value: o }, o));
  input.value = value;
  input.addEventListener("change", () => onChange(input.value));
  return { root: el("label", { class: "lora-lab-control" }, el("span", { class: "lora-lab-label" }, label), input), input };
}

export function checkbox(
  label: string,
  checked: boolean,
  name: string,
  onChange: (v: boolean) => void,
): { root: HTMLElement; input: HTMLInputElement } {
  const input = el("input", { type: "checkbox", "data-trait": name });
  input.checked = checked;
  input.addEventListener("change", () => onChange(input.checked));
  return { root: el("label", { class: "lora-lab-check" }, input, label), input };
}

export const STYLE = `
.lora-lab-widget { font: 13px system-ui, sans-serif; color: #24292f; padding: 4px; }
.lora-lab-controls { display: flex; flex-wrap: wrap; gap: 6px 18px; align-items: center; margin-bottom: 6px; }
.lora-lab-control { display: inline-flex; gap: 6px; align-items: center; }
.lora-lab-label { min-width: 64px; color: #57606a; }
.lora-lab-readout { min-width: 56px; font-variant-numeric: tabular-nums; }
.lora-lab-plot { width: 100%; min-height: 260px; }
.lora-lab-plot:empty { min-height: 0; }
.lora-lab-summary { margin: 4px 0; font-variant-numeric: tabular-nums; }
.lora-lab-group { display: flex; gap: 12px; align-items: center; margin: 2px 0; }
.lora-lab-buttons button { margin-right: 6px; padding: 3px 12px; }
.lora-lab-grid { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 4px; }
.lora-lab-grid > .lora-lab-wide { grid-column: 1 / span 2; }
`;

/** Adds the views' stylesheet once per document. */
export function ensureStyle(): void {
  if (document.getElementById("lora-lab-widgets-style")) return;
  const s = el("style", { id: "lora-lab-widgets-style" }, STYLE);
  document.head.append(s);
}
