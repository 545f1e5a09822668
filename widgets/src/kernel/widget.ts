/**
 * The kernel half of a Jupyter widget (protocol 2.1.0 over the `jupyter.widget` comm target):
 * state as snake_case traits, `update` both ways, `echo_update` replies, `request_state`, custom
 * messages, binary buffers. Without a kernel (plain Node, tests of `.value`) a widget works
 * detached: state changes locally and nothing is sent.
 */
import { commManager, displayHook, putBuffers, removeBuffers, type BufferLike, type Comm, type CommMsg } from "./comm.js";
import { PROTOCOL_VERSION, WIDGET_TARGET } from "./traits.js";
import { ensureControlTarget, registerWidget, unregisterWidget, widgetById, type LiveWidget } from "./registry.js";

export type State = Record<string, unknown>;

export interface TraitChange<T = unknown> {
  name: string;
  old: T;
  new: T;
  owner: Widget;
}

export interface WidgetSpec {
  modelName: string;
  modelModule: string;
  modelModuleVersion: string;
  viewName: string | null;
  viewModule: string | null;
  viewModuleVersion: string;
}

const REF = "IPY_MODEL_";
let detachedIds = 0;

/** Widget references go on the wire as "IPY_MODEL_<id>"; arrays of widgets as arrays of those. */
function toWire(value: unknown): unknown {
  if (value instanceof Widget) return REF + value.modelId;
  if (Array.isArray(value)) return value.map(toWire);
  return value;
}

function fromWire(value: unknown): unknown {
  if (typeof value === "string" && value.startsWith(REF)) return widgetById(value.slice(REF.length)) ?? value;
  if (Array.isArray(value)) return value.map(fromWire);
  return value;
}

export class Widget implements LiveWidget {
  private id: string | undefined;
  private openedComm: Comm | undefined;
  protected readonly state: State;
  private readonly observers = new Map<string, ((c: TraitChange<any>) => void)[]>();
  private readonly customHandlers: ((content: any, buffers: DataView[]) => void)[] = [];
  private holding: State | null = null;
  private displayCount = 0;

  /**
   * `deferOpen`: a subclass that computes more state in its constructor opens the comm itself
   * (`this.open()`), so the front end gets the full state in comm_open.
   */
  constructor(
    readonly spec: WidgetSpec,
    state: State,
    deferOpen = false,
  ) {
    this.state = {
      _model_name: spec.modelName,
      _model_module: spec.modelModule,
      _model_module_version: spec.modelModuleVersion,
      _view_name: spec.viewName,
      _view_module: spec.viewModule,
      _view_module_version: spec.viewModuleVersion,
      _view_count: null,
      ...state,
    };
    if (!deferOpen) this.open();
  }

  /** Opens the comm with the current state (once); without a kernel the widget stays detached. */
  protected open(): void {
    if (this.id !== undefined) return;
    const manager = commManager();
    if (manager) {
      ensureControlTarget(manager);
      const { state: wire, bufferPaths, buffers } = this.wireState();
      const comm = manager.open(WIDGET_TARGET, { state: wire, buffer_paths: bufferPaths }, { version: PROTOCOL_VERSION }, buffers);
      this.openedComm = comm;
      this.id = comm.commId;
      comm.onMsg((msg) => this.handleMsg(msg));
      comm.onClose(() => unregisterWidget(comm.commId));
    } else {
      this.id = `detached-${process.pid}-${++detachedIds}`;
    }
    registerWidget(this);
  }

  get modelId(): string {
    if (this.id === undefined)
      throw new Error(`${this.spec.modelName}: the widget is not open yet (a subclass constructor must call this.open())`);
    return this.id;
  }

  get comm(): Comm | undefined {
    return this.openedComm;
  }

  /** Full state as sent on the wire: widget refs as strings, binary values split out. */
  wireState(names?: string[]): { state: State; bufferPaths: (string | number)[][]; buffers: ArrayBufferView[] } {
    const picked: State = {};
    for (const name of names ?? Object.keys(this.state)) picked[name] = toWire(this.state[name]);
    return removeBuffers(picked);
  }

  get<T = unknown>(name: string): T {
    return this.state[name] as T;
  }

  /** Sets traits and sends one `update` with the ones that changed (one for all while in `hold`). */
  set(patch: State): void {
    const changed = this.apply(patch);
    if (changed.length === 0) return;
    if (this.holding) for (const name of changed) this.holding[name] = true;
    else this.sendUpdate(changed);
  }

  /** Runs `fn` and sends the traits it changed as one update (ipywidgets' hold_sync). */
  hold(fn: () => void): void {
    if (this.holding) return fn();
    this.holding = {};
    try {
      fn();
    } finally {
      const names = Object.keys(this.holding);
      this.holding = null;
      if (names.length) this.sendUpdate(names);
    }
  }

  /** Calls `handler` after a trait changes, from the kernel or from a view. */
  observe<T = unknown>(names: string | string[], handler: (change: TraitChange<T>) => void): this {
    for (const name of Array.isArray(names) ? names : [names]) {
      const list = this.observers.get(name) ?? [];
      list.push(handler);
      this.observers.set(name, list);
    }
    return this;
  }

  /** Handles custom messages from the view (`model.send(content)` there). */
  onCustom(handler: (content: any, buffers: DataView[]) => void): this {
    this.customHandlers.push(handler);
    return this;
  }

  /** Sends a custom message to every view. */
  send(content: unknown, buffers: BufferLike[] = []): void {
    this.comm?.send({ method: "custom", content }, {}, buffers);
  }

  /** Shows the widget in the running cell's output (the MIME bundle of ipywidgets' views). */
  display(): void {
    const hook = displayHook();
    const content = {
      data: {
        "application/vnd.jupyter.widget-view+json": { model_id: this.modelId, version_major: 2, version_minor: 1 },
        "text/plain": this.toString(),
      },
      metadata: {},
      transient: { display_id: `${this.modelId}-${++this.displayCount}` },
    };
    if (hook) hook(content, false);
    else console.log(this.toString());
  }

  /** What a notebook prints for a bare widget: its short form, not the comm and observers. */
  [Symbol.for("nodejs.util.inspect.custom")](): string {
    return this.toString();
  }

  close(): void {
    if (this.comm && !this.comm.closed) this.comm.close();
    unregisterWidget(this.modelId);
  }

  toString(): string {
    const shown = ["description", "value"].filter((k) => k in this.state && typeof this.state[k] !== "object");
    return `${this.spec.modelName.replace(/Model$/, "")}(${shown.map((k) => `${k}=${JSON.stringify(this.state[k])}`).join(", ")})`;
  }

  /** Incoming traits are converted here (e.g. buffers to typed arrays); default: as received. */
  protected fromView(_name: string, value: unknown): unknown {
    return value;
  }

  private apply(patch: State): string[] {
    const changed: string[] = [];
    const olds = new Map<string, unknown>();
    for (const [name, value] of Object.entries(patch)) {
      const old = this.state[name];
      if (old === value) continue;
      this.state[name] = value;
      olds.set(name, old);
      changed.push(name);
    }
    for (const name of changed) {
      for (const handler of this.observers.get(name) ?? []) handler({ name, old: olds.get(name), new: this.state[name], owner: this });
    }
    return changed;
  }

  private sendUpdate(names: string[], method: "update" | "echo_update" = "update"): void {
    if (!this.comm || this.comm.closed) return;
    const { state, bufferPaths, buffers } = this.wireState(names);
    this.comm.send({ method, state, buffer_paths: bufferPaths }, {}, buffers);
  }

  private handleMsg(msg: CommMsg): void {
    const data = msg.data ?? {};
    switch (data.method) {
      case "update": {
        const incoming: State = { ...(data.state ?? {}) };
        putBuffers(incoming, data.buffer_paths ?? [], msg.buffers);
        const patch: State = {};
        for (const [name, value] of Object.entries(incoming)) patch[name] = this.fromView(name, fromWire(value));
        // As ipywidgets 8: echo what was received first, so the view that sent it can drop stale echoes.
        const { state, bufferPaths, buffers } = removeBuffers(Object.fromEntries(Object.entries(patch).map(([k, v]) => [k, toWire(v)])));
        this.comm?.send({ method: "echo_update", state, buffer_paths: bufferPaths }, {}, buffers);
        this.apply(patch);
        return;
      }
      case "request_state":
        return this.sendUpdate(Object.keys(this.state));
      case "custom":
        for (const handler of this.customHandlers) handler(data.content, msg.buffers);
        return;
      default:
        console.error(
          `widget ${this.modelId}: unknown comm method ${JSON.stringify(data.method)}; expected update, request_state or custom`,
        );
    }
  }
}
