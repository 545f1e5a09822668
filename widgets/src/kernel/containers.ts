/** Containers (HBox, VBox, Tab) and the Output widget. */
import { DomWidget, type DomOptions } from "./controls.js";
import { Layout } from "./layout.js";
import { OUTPUT_MODULE, OUTPUT_VERSION } from "./traits.js";
import { Widget } from "./widget.js";

export class Box extends DomWidget {
  constructor(kind: "HBox" | "VBox" | "Box", children: Widget[], o: DomOptions = {}) {
    super(kind, kind, null, o, { children, box_style: "" });
  }
  get children(): Widget[] {
    return this.get("children");
  }
  set children(c: Widget[]) {
    this.set({ children: c });
  }
}

export class HBox extends Box {
  constructor(children: Widget[] = [], o: DomOptions = {}) {
    super("HBox", children, o);
  }
}

export class VBox extends Box {
  constructor(children: Widget[] = [], o: DomOptions = {}) {
    super("VBox", children, o);
  }
}

export class Tab extends DomWidget {
  constructor(children: Widget[] = [], o: DomOptions & { titles?: string[]; selectedIndex?: number } = {}) {
    const titles = o.titles ?? children.map((_, i) => `Tab ${i + 1}`);
    if (titles.length !== children.length)
      throw new Error(`Tab: ${titles.length} titles for ${children.length} children; expected one title per child`);
    super("Tab", "Tab", null, o, { children, box_style: "", titles, selected_index: children.length ? (o.selectedIndex ?? 0) : null });
  }
  get selectedIndex(): number | null {
    return this.get("selected_index");
  }
  set selectedIndex(i: number | null) {
    this.set({ selected_index: i });
  }
}

/** One output of the notebook format (stream, display_data, ...). */
export type OutputItem = Record<string, unknown> & { output_type: string };

/**
 * The Output widget. Its `outputs` trait is set here (append / clear) rather than captured by
 * message id, so it renders the same in every front end, live or from saved state.
 */
export class Output extends Widget {
  readonly layout: Layout;

  constructor(o: { layout?: Record<string, unknown> } = {}) {
    const layout = new Layout(o.layout);
    super(
      {
        modelName: "OutputModel",
        modelModule: OUTPUT_MODULE,
        modelModuleVersion: OUTPUT_VERSION,
        viewName: "OutputView",
        viewModule: OUTPUT_MODULE,
        viewModuleVersion: OUTPUT_VERSION,
      },
      { _dom_classes: [], layout, tabbable: null, tooltip: null, msg_id: "", outputs: [] },
    );
    this.layout = layout;
  }

  get outputs(): OutputItem[] {
    return this.get("outputs");
  }
  append(item: OutputItem): void {
    this.set({ outputs: [...this.outputs, item] });
  }
  appendStdout(text: string): void {
    this.append({ output_type: "stream", name: "stdout", text });
  }
  appendStderr(text: string): void {
    this.append({ output_type: "stream", name: "stderr", text });
  }
  /** A rich output: `{ "text/html": "...", "text/plain": "..." }`. */
  appendDisplayData(data: Record<string, unknown>, metadata: Record<string, unknown> = {}): void {
    this.append({ output_type: "display_data", data, metadata });
  }
  clear(): void {
    this.set({ outputs: [] });
  }
}
