/**
 * Jupyter comms on the kernel side, published at globalThis[Symbol.for("lora-lab.comms")] so any
 * copy of lora-lab (or widget code) loaded by a cell reaches the running kernel.
 *
 * Contract (shared with widgets/): registerTarget / unregisterTarget / open on the manager;
 * send / close / onMsg / onClose on a comm. `onMsg` and `onClose` add handlers (all are called, in
 * order). `onClose` handlers run when the front end closes the comm, not on a local close(), as in
 * ipykernel. The parent header of what a comm sends is the message being handled (a comm message
 * inside a comm handler, the running cell otherwise): the kernel keeps it per async context.
 * send() on a closed comm drops the message with a log line (it does not throw).
 */
import { randomUUID } from "node:crypto";
import { toBuffers, type Message } from "./wire.js";

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

export type CommTargetHandler = (comm: Comm, openMsg: CommMsg) => void;

export interface CommManager {
  registerTarget(name: string, handler: CommTargetHandler): void;
  unregisterTarget(name: string): void;
  open(target: string, data?: any, metadata?: any, buffers?: BufferLike[]): Comm;
}

/** How the manager talks to the kernel: publish on iopub (parent chosen by the kernel), log to stderr. */
export interface CommTransport {
  publish(
    msgType: "comm_open" | "comm_msg" | "comm_close",
    content: Record<string, unknown>,
    metadata: Record<string, unknown>,
    buffers: Buffer[],
  ): void;
  log(line: string): void;
}

function toCommMsg(msg: Message): CommMsg {
  return {
    data: msg.content.data ?? {},
    metadata: msg.metadata ?? {},
    buffers: msg.buffers.map((b) => new DataView(b.buffer, b.byteOffset, b.byteLength)),
  };
}

class KernelComm implements Comm {
  private isClosed = false;
  private readonly msgHandlers: ((msg: CommMsg) => void)[] = [];
  private readonly closeHandlers: ((msg: CommMsg) => void)[] = [];

  constructor(
    readonly commId: string,
    readonly targetName: string,
    private readonly manager: KernelCommManager,
  ) {}

  get closed(): boolean {
    return this.isClosed;
  }

  send(data: any = {}, metadata: any = {}, buffers?: BufferLike[]): void {
    // As ipykernel's comms, sending never throws: a view closed by the front end must not fail a
    // training loop that still updates its widget. The message is dropped and logged.
    if (this.isClosed) return this.manager.transport.log(`comm ${this.commId} (target "${this.targetName}") is closed; comm_msg dropped`);
    this.manager.transport.publish("comm_msg", { comm_id: this.commId, data }, metadata, toBuffers(buffers));
  }

  close(data: any = {}, metadata: any = {}, buffers?: BufferLike[]): void {
    if (this.isClosed) return;
    this.isClosed = true;
    this.manager.forget(this.commId);
    this.manager.transport.publish("comm_close", { comm_id: this.commId, data }, metadata, toBuffers(buffers));
  }

  onMsg(handler: (msg: CommMsg) => void): void {
    this.msgHandlers.push(handler);
  }

  onClose(handler: (msg: CommMsg) => void): void {
    this.closeHandlers.push(handler);
  }

  /** A comm_msg from the front end. */
  deliver(msg: CommMsg): void {
    for (const h of this.msgHandlers) this.manager.guard(`comm ${this.commId} message handler`, () => h(msg));
  }

  /** A comm_close from the front end. */
  remoteClose(msg: CommMsg): void {
    this.isClosed = true;
    for (const h of this.closeHandlers) this.manager.guard(`comm ${this.commId} close handler`, () => h(msg));
  }
}

export class KernelCommManager implements CommManager {
  private readonly targets = new Map<string, CommTargetHandler>();
  private readonly comms = new Map<string, KernelComm>();

  constructor(readonly transport: CommTransport) {}

  registerTarget(name: string, handler: CommTargetHandler): void {
    if (typeof handler !== "function")
      throw new TypeError(`registerTarget("${name}", handler): handler must be a function, got ${typeof handler}`);
    this.targets.set(name, handler);
  }

  unregisterTarget(name: string): void {
    this.targets.delete(name);
  }

  open(target: string, data: any = {}, metadata: any = {}, buffers?: BufferLike[]): Comm {
    const comm = new KernelComm(randomUUID().replace(/-/g, ""), target, this);
    this.comms.set(comm.commId, comm);
    this.transport.publish("comm_open", { comm_id: comm.commId, target_name: target, data }, metadata, toBuffers(buffers));
    return comm;
  }

  /** Open comms, as comm_info_reply lists them (only those of `targetName` when given). */
  info(targetName?: string): Record<string, { target_name: string }> {
    const out: Record<string, { target_name: string }> = {};
    for (const c of this.comms.values())
      if (targetName === undefined || c.targetName === targetName) out[c.commId] = { target_name: c.targetName };
    return out;
  }

  /** comm_open from the front end: hand the comm to its target, or close it when none is registered. */
  handleOpen(msg: Message): void {
    const { comm_id: commId, target_name: targetName } = msg.content as { comm_id?: unknown; target_name?: unknown };
    if (typeof commId !== "string" || typeof targetName !== "string") {
      this.transport.log(`comm_open without a string comm_id and target_name: ${JSON.stringify(msg.content).slice(0, 200)}`);
      return;
    }
    const handler = this.targets.get(targetName);
    const comm = new KernelComm(commId, targetName, this);
    if (!handler) {
      this.transport.log(
        `comm_open for unknown target "${targetName}" (registered: ${[...this.targets.keys()].join(", ") || "none"}); closing comm ${commId}`,
      );
      this.transport.publish("comm_close", { comm_id: commId, data: {} }, {}, []);
      return;
    }
    this.comms.set(commId, comm);
    const ok = this.guard(`target "${targetName}" open handler`, () => handler(comm, toCommMsg(msg)));
    if (!ok) comm.close();
  }

  handleMsg(msg: Message): void {
    const comm = this.comms.get(msg.content.comm_id);
    if (!comm) return this.transport.log(`comm_msg for unknown comm ${JSON.stringify(msg.content.comm_id)}; ignored`);
    comm.deliver(toCommMsg(msg));
  }

  handleClose(msg: Message): void {
    const comm = this.comms.get(msg.content.comm_id);
    if (!comm) return this.transport.log(`comm_close for unknown comm ${JSON.stringify(msg.content.comm_id)}; ignored`);
    this.comms.delete(comm.commId);
    comm.remoteClose(toCommMsg(msg));
  }

  forget(commId: string): void {
    this.comms.delete(commId);
  }

  /** Runs library code; an exception is logged (with its stack) instead of killing the kernel. */
  guard(what: string, fn: () => void): boolean {
    try {
      fn();
      return true;
    } catch (err) {
      this.transport.log(`${what} threw: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      return false;
    }
  }
}
