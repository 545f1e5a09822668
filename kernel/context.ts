/**
 * The message a piece of work answers, kept per async context: output written from a timer or an
 * awaited continuation goes to the cell (or comm message) that started it, not to whichever cell
 * runs now.
 */
import { AsyncLocalStorage } from "node:async_hooks";
import type { Header } from "./wire.js";

/** One execute_request while it runs (and after, for its timers). */
export interface Execution {
  parent: Header;
  count: number | null;
  silent: boolean;
  controller: AbortController;
  /** Someone (train()) read this cell's AbortSignal: an interrupt lets the loop stop on its own. */
  signalObserved: boolean;
  interrupted: boolean;
  /** The cell's last expression (tslab hands it to its console.log). */
  result?: { value: unknown };
  /** What the cell threw (tslab hands it to its console.error). */
  error?: { value: unknown };
  diagnostics: string[];
}

export interface KernelContext {
  parent: Header;
  execution?: Execution;
}

export const context = new AsyncLocalStorage<KernelContext>();
