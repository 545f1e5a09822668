/**
 * Live widgets by model id, kept process-wide (a cell may load this package twice: by import and
 * by require), and the `jupyter.widget.control` target that answers a front end's
 * `request_states` with every live widget's state, so a reloaded page finds them at once.
 */
import type { Comm, CommManager, CommMsg } from "./comm.js";
import { CONTROL_TARGET } from "./traits.js";

/**
 * What the registry needs of a widget. widget.ts's Widget has it; declaring it here keeps the
 * import one way (widget.ts -> registry.ts).
 */
export interface LiveWidget {
  readonly modelId: string;
  readonly comm: Comm | undefined;
  readonly spec: { readonly modelName: string; readonly modelModule: string; readonly modelModuleVersion: string };
  wireState(): { state: Record<string, unknown>; bufferPaths: (string | number)[][]; buffers: ArrayBufferView[] };
}

const REGISTRY = Symbol.for("lora-lab.widgets.registry");
const CONTROL_REGISTERED = Symbol.for("lora-lab.widgets.controlTarget");
type Global = Record<symbol, unknown>;

function registry(): Map<string, LiveWidget> {
  const g = globalThis as unknown as Global;
  return ((g[REGISTRY] as Map<string, LiveWidget> | undefined) ??= new Map()) as Map<string, LiveWidget>;
}

export function registerWidget(w: LiveWidget): void {
  registry().set(w.modelId, w);
}

export function unregisterWidget(id: string): void {
  registry().delete(id);
}

export function widgetById(id: string): LiveWidget | undefined {
  return registry().get(id);
}

export function liveWidgets(): LiveWidget[] {
  return [...registry().values()];
}

/** The reply to `request_states`: every live widget's state, buffers keyed by [model id, ...path]. */
export function allStates(): { data: Record<string, unknown>; buffers: ArrayBufferView[] } {
  const states: Record<string, unknown> = {};
  const bufferPaths: (string | number)[][] = [];
  const buffers: ArrayBufferView[] = [];
  for (const w of liveWidgets()) {
    if (!w.comm || w.comm.closed) continue;
    const wire = w.wireState();
    states[w.modelId] = {
      model_name: w.spec.modelName,
      model_module: w.spec.modelModule,
      model_module_version: w.spec.modelModuleVersion,
      state: wire.state,
    };
    wire.bufferPaths.forEach((p, i) => {
      bufferPaths.push([w.modelId, ...p]);
      buffers.push(wire.buffers[i]);
    });
  }
  return { data: { method: "update_states", states, buffer_paths: bufferPaths }, buffers };
}

function handleControl(comm: Comm): void {
  comm.onMsg((msg: CommMsg) => {
    if (msg.data?.method !== "request_states") {
      console.error(`${CONTROL_TARGET}: unknown method ${JSON.stringify(msg.data?.method)}; expected request_states`);
      return;
    }
    const { data, buffers } = allStates();
    comm.send(data, {}, buffers);
  });
}

/** Registers the control target once per comm manager (a restarted kernel brings a new one). */
export function ensureControlTarget(manager: CommManager): void {
  const tagged = manager as unknown as Global;
  if (tagged[CONTROL_REGISTERED]) return;
  manager.registerTarget(CONTROL_TARGET, (comm) => handleControl(comm));
  tagged[CONTROL_REGISTERED] = true;
}
