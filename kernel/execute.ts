/**
 * execute_request on top of tslab's executor: one cell at a time, execute_input, execute_result
 * for the last expression, error replies with ename / evalue / traceback, stop_on_error aborts of
 * queued cells, and interrupts through the cell's AbortSignal (lora-lab.signal).
 */
import { inspect } from "node:util";
import type { Executor } from "tslab/dist/executor.js";
import { context, type Execution } from "./context.js";
import type { HistoryEntry } from "./history.js";
import type { Header, Message } from "./wire.js";

export const SIGNAL_KEY = Symbol.for("lora-lab.signal");

/** tslab's printDiagnostics format string (executor.ts): how a compile error reaches our console. */
const DIAGNOSTIC_FORMAT = "%s%d:%d - %s";

export interface ExecutionIo {
  publish(msgType: string, content: Record<string, unknown>, parent: Header): void;
  reply(msg: Message, msgType: string, content: Record<string, unknown>): void;
  status(state: "busy" | "idle", parent: Header): void;
}

export interface ErrorContent {
  ename: string;
  evalue: string;
  traceback: string[];
}

/** Frames of the kernel and of Node itself say nothing about the user's cell. */
function cellTraceback(stack: string): string[] {
  return stack.split("\n").filter((line) => !/\(node:|at node:|[\\/]tslab[\\/]dist[\\/]|[\\/]dist[\\/]kernel[\\/]/.test(line));
}

export function describeError(value: unknown): ErrorContent {
  if (value instanceof Error || (value !== null && typeof value === "object" && "message" in value)) {
    const e = value as Error;
    const ename = e.name || e.constructor?.name || "Error";
    const evalue = String(e.message ?? "");
    return { ename, evalue, traceback: cellTraceback(e.stack ?? `${ename}: ${evalue}`) };
  }
  const text = inspect(value);
  return { ename: "Error", evalue: `thrown value: ${text}`, traceback: [`Uncaught ${text}`] };
}

export class Executions {
  private queue: Promise<void> = Promise.resolve();
  private arrived = 0;
  /** Requests that arrived up to this number are aborted (a cell failed with stop_on_error). */
  private abortThrough = 0;
  private count = 0;
  /** Cells run with store_history, for history_request. */
  readonly history: HistoryEntry[] = [];
  private current: Execution | undefined;
  private hardTimer: NodeJS.Timeout | undefined;

  /**
   * @param graceMs after an interrupt, how long a cell whose AbortSignal was read may take to stop
   *   by itself before its awaited promise is abandoned (a second interrupt abandons it at once).
   */
  constructor(
    private readonly executor: Executor,
    private readonly io: ExecutionIo,
    private readonly graceMs = 30_000,
  ) {}

  get running(): Execution | undefined {
    return this.current;
  }

  /** The console tslab's executor reports to: compile errors, thrown values, the last expression. */
  readonly executorConsole = {
    log: (value?: unknown) => {
      const e = context.getStore()?.execution;
      if (e) e.result = { value };
    },
    error: (first?: unknown, ...rest: unknown[]) => {
      const e = context.getStore()?.execution;
      if (!e) return;
      if (first === DIAGNOSTIC_FORMAT) {
        const [file, line, col, text] = rest as [string, number, number, string];
        e.diagnostics.push(`${file}${line}:${col} - ${text}`);
      } else if (!e.error) e.error = { value: first };
    },
  };

  /** The AbortSignal of the cell in this async context (or of the running cell); undefined when none. */
  signalForCaller(): AbortSignal | undefined {
    const e = context.getStore()?.execution ?? this.current;
    if (!e) return undefined;
    e.signalObserved = true;
    return e.controller.signal;
  }

  execute(msg: Message): Promise<void> {
    const seq = ++this.arrived;
    const turn = this.queue.then(() => this.runOne(msg, seq));
    this.queue = turn.catch(() => undefined);
    return turn;
  }

  /** Interrupt: abort the cell's signal; abandon its awaited promise when nothing reads the signal. */
  interrupt(): void {
    const e = this.current;
    if (!e) return;
    const again = e.interrupted;
    e.interrupted = true;
    // Abort listeners run now: let what they print go to the cell, not to the interrupt message.
    if (!e.controller.signal.aborted)
      context.run({ parent: e.parent, execution: e }, () => e.controller.abort(new Error("KeyboardInterrupt: the kernel was interrupted")));
    if (again || !e.signalObserved) {
      this.executor.interrupt();
    } else if (!this.hardTimer) {
      this.hardTimer = setTimeout(() => {
        if (this.current === e) this.executor.interrupt();
      }, this.graceMs);
      this.hardTimer.unref();
    }
  }

  private async runOne(msg: Message, seq: number): Promise<void> {
    const {
      code = "",
      silent = false,
      store_history: storeHistory = true,
      stop_on_error: stopOnError = true,
    } = msg.content as {
      code?: string;
      silent?: boolean;
      store_history?: boolean;
      stop_on_error?: boolean;
    };
    this.io.status("busy", msg.header);
    try {
      if (seq <= this.abortThrough) {
        this.io.reply(msg, "execute_reply", { status: "aborted", execution_count: this.count });
        return;
      }
      if (!silent && storeHistory) this.count++;
      const execution: Execution = {
        parent: msg.header,
        count: this.count,
        silent,
        controller: new AbortController(),
        signalObserved: false,
        interrupted: false,
        diagnostics: [],
      };
      if (!silent) this.io.publish("execute_input", { code, execution_count: this.count }, msg.header);
      this.current = execution;
      let ok = false;
      try {
        ok = await context.run({ parent: msg.header, execution }, () => this.executor.execute(String(code)));
      } catch (err) {
        execution.error ??= { value: err };
      } finally {
        this.current = undefined;
        clearTimeout(this.hardTimer);
        this.hardTimer = undefined;
      }
      const failure = this.failureOf(execution, ok);
      if (failure) {
        if (!silent) this.io.publish("error", { ...failure }, msg.header);
        this.io.reply(msg, "execute_reply", { status: "error", execution_count: this.count, ...failure });
        if (stopOnError) this.abortThrough = this.arrived;
        return;
      }
      const text = execution.result ? inspect(execution.result.value) : null;
      if (!silent && text !== null)
        this.io.publish("execute_result", { execution_count: this.count, data: { "text/plain": text }, metadata: {} }, msg.header);
      if (!silent && storeHistory) this.history.push({ line: this.count, input: String(code), output: text });
      this.io.reply(msg, "execute_reply", { status: "ok", execution_count: this.count, user_expressions: {}, payload: [] });
    } finally {
      this.io.status("idle", msg.header);
    }
  }

  private failureOf(e: Execution, ok: boolean): ErrorContent | undefined {
    if (e.interrupted) {
      return {
        ename: "KeyboardInterrupt",
        evalue: "Interrupted: the cell's AbortSignal was aborted (a lora-lab train() loop stops after its current step)",
        traceback: ["KeyboardInterrupt: the kernel was interrupted while this cell ran"],
      };
    }
    if (ok) return undefined;
    if (e.diagnostics.length > 0)
      return { ename: "TSError", evalue: e.diagnostics.join("\n"), traceback: e.diagnostics.map((d) => `TSError: ${d}`) };
    if (e.error) return describeError(e.error.value);
    return { ename: "Error", evalue: "the cell failed without reporting an error", traceback: [] };
  }
}
