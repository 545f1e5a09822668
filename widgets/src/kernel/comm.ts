/**
 * The comm manager contract (implemented by kernel/, published process-wide) and the binary
 * buffer helpers of the widget protocol. Widgets reach the kernel only through
 * globalThis[Symbol.for("lora-lab.comms")], so a copy of this code loaded by a cell finds it.
 */
import { PLOT_DISPLAY_HOOK, type PlotDisplayContent, type PlotDisplayHook } from "lora-lab";

export const COMMS_KEY = Symbol.for("lora-lab.comms");

export type BufferLike = ArrayBuffer | ArrayBufferView;

export interface CommMsg {
  data: any;
  metadata: any;
  buffers: DataView[];
}

export interface Comm {
  readonly commId: string;
  readonly targetName: string;
  readonly closed: boolean;
  send(data: any, metadata?: any, buffers?: BufferLike[]): void;
  close(data?: any, metadata?: any, buffers?: BufferLike[]): void;
  onMsg(handler: (msg: CommMsg) => void): void;
  onClose(handler: (msg: CommMsg) => void): void;
}

export interface CommManager {
  registerTarget(name: string, handler: (comm: Comm, openMsg: CommMsg) => void): void;
  unregisterTarget(name: string): void;
  open(target: string, data?: any, metadata?: any, buffers?: BufferLike[]): Comm;
}

/** The kernel's display function and its key: the ones lora-lab's plots use. */
export const DISPLAY_KEY = PLOT_DISPLAY_HOOK;
export type DisplayContent = PlotDisplayContent;
export type DisplayHook = PlotDisplayHook;

type Global = Record<symbol, unknown>;

/** The running kernel's comm manager, or undefined in plain Node (widgets then work detached). */
export function commManager(): CommManager | undefined {
  return (globalThis as unknown as Global)[COMMS_KEY] as CommManager | undefined;
}

export function displayHook(): DisplayHook | undefined {
  return (globalThis as unknown as Global)[DISPLAY_KEY] as DisplayHook | undefined;
}

function isBinary(v: unknown): v is ArrayBuffer | ArrayBufferView {
  return v instanceof ArrayBuffer || ArrayBuffer.isView(v);
}

/**
 * Splits binary values (typed arrays, DataViews, ArrayBuffers) out of a state object, as
 * ipywidgets' `_remove_buffers`: the JSON keeps everything else, `bufferPaths[i]` says where
 * `buffers[i]` goes back. Objects and arrays holding a buffer are copied, never mutated.
 */
export function removeBuffers(state: Record<string, unknown>): {
  state: Record<string, unknown>;
  bufferPaths: (string | number)[][];
  buffers: ArrayBufferView[];
} {
  const bufferPaths: (string | number)[][] = [];
  const buffers: ArrayBufferView[] = [];
  const walk = (value: unknown, path: (string | number)[]): unknown => {
    if (isBinary(value)) {
      bufferPaths.push(path);
      buffers.push(value instanceof ArrayBuffer ? new Uint8Array(value) : value);
      return undefined;
    }
    if (Array.isArray(value)) {
      let copy: unknown[] | undefined;
      value.forEach((item, i) => {
        const out = walk(item, [...path, i]);
        if (out !== item) (copy ??= value.slice())[i] = out === undefined ? null : out;
      });
      return copy ?? value;
    }
    if (value !== null && typeof value === "object" && Object.getPrototypeOf(value) === Object.prototype) {
      let copy: Record<string, unknown> | undefined;
      for (const [k, item] of Object.entries(value)) {
        const out = walk(item, [...path, k]);
        if (out !== item) {
          copy ??= { ...(value as Record<string, unknown>) };
          if (out === undefined) delete copy[k];
          else copy[k] = out;
        }
      }
      return copy ?? value;
    }
    return value;
  };
  const out = walk(state, []) as Record<string, unknown>;
  return { state: out, bufferPaths, buffers };
}

/** Puts received buffers back at their paths (ipywidgets' `put_buffers`); mutates `state`. */
export function putBuffers(state: Record<string, unknown>, bufferPaths: (string | number)[][], buffers: DataView[]): void {
  bufferPaths.forEach((path, i) => {
    if (path.length === 0) throw new Error("widget buffer path is empty: expected [trait, ...] naming where the buffer goes");
    let target: any = state;
    for (const key of path.slice(0, -1)) target = target[key] ??= {};
    target[path[path.length - 1]] = buffers[i];
  });
}

/** A received buffer as Float64Array (the dtype lora-lab sends number arrays in). */
export function float64(view: DataView | ArrayBufferView): Float64Array {
  const copy = new Uint8Array(view.byteLength);
  copy.set(new Uint8Array(view.buffer, view.byteOffset, view.byteLength));
  return new Float64Array(copy.buffer);
}
