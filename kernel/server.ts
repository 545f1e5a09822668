/**
 * The kernel's message loop: tslab's ZmqServer (sockets, heartbeat, the receive loops) with every
 * shell and control message handled here instead: our own wire codec (HMAC over the four JSON
 * frames, raw buffers), comms, busy / idle with the right parent, execute through Executions.
 */
import { createRequire } from "node:module";
import { randomUUID } from "node:crypto";
import type * as Zmq from "zeromq";
import type * as TslabJupyter from "tslab/dist/jupyter.js";
import { KernelCommManager } from "./comms.js";
import { context } from "./context.js";
import { Executions } from "./execute.js";
import { historyReply } from "./history.js";
import { decode, encode, newHeader, PROTOCOL_VERSION, Signer, type Header, type Message } from "./wire.js";

const require = createRequire(import.meta.url);
const jupyter = require("tslab/dist/jupyter") as typeof TslabJupyter;
// tslab's own TypeScript, found from tslab (it may be nested under tslab/node_modules).
const tslabRequire = createRequire(require.resolve("tslab/dist/jupyter"));

type Handler = InstanceType<typeof jupyter.JupyterHandlerImpl>;
type Socket = Zmq.Router | Zmq.Publisher;

export interface ServerOptions {
  implementationVersion: string;
  /** Writes a line to the kernel's real stderr (the Jupyter server's log), never to a cell. */
  log(line: string): void;
  /** Called once the shutdown reply is on its way: close sockets, then exit. */
  onShutdown(): void;
}

export class LabServer extends jupyter.ZmqServer {
  readonly comms: KernelCommManager;
  executions!: Executions;
  private signer!: Signer;
  private readonly session = randomUUID().replace(/-/g, "");
  private readonly sendQueues = new Map<Socket, Promise<void>>();
  /** The parent of output that happens outside any message's async context. */
  private lastCell: Header | undefined;
  private shuttingDown = false;

  constructor(
    handler: Handler,
    connectionFile: string,
    private readonly options: ServerOptions,
  ) {
    super(handler, connectionFile);
    this.comms = new KernelCommManager({
      publish: (type, content, metadata, buffers) => this.publish(type, content, { metadata, buffers }),
      log: options.log,
    });
  }

  override async init(): Promise<void> {
    await super.init();
    this.signer = new Signer(this.connInfo.key ?? "", this.connInfo.signature_scheme || "hmac-sha256");
  }

  attach(executions: Executions): void {
    this.executions = executions;
  }

  /** Where output goes now: the message of this async context, else the running or last cell. */
  currentParent(): Header | undefined {
    return context.getStore()?.parent ?? this.executions?.running?.parent ?? this.lastCell;
  }

  /** Is the code writing now part of a silent execute_request (whose output is not broadcast)? */
  isSilent(): boolean {
    return context.getStore()?.execution?.silent ?? false;
  }

  publish(
    msgType: string,
    content: Record<string, unknown>,
    opts: { parent?: Header; metadata?: Record<string, unknown>; buffers?: Buffer[] } = {},
  ): void {
    const parent = opts.parent ?? this.currentParent();
    this.send(this.iopub, {
      identities: [Buffer.from(msgType)],
      header: newHeader(msgType, this.session),
      parent: parent ?? {},
      metadata: opts.metadata ?? {},
      content,
      buffers: opts.buffers ?? [],
    });
  }

  private send(sock: Socket, msg: Message): Promise<void> {
    const frames = encode(this.signer, msg);
    // zeromq 6 allows one send in flight per socket: chain them.
    const next = (this.sendQueues.get(sock) ?? Promise.resolve())
      .then(() => sock.send(frames))
      .catch((err: unknown) => this.options.log(`send of ${msg.header.msg_type} failed: ${(err as Error).message}`));
    this.sendQueues.set(sock, next);
    return next;
  }

  /** Resolves when everything queued so far has been handed to ZeroMQ. */
  flush(): Promise<unknown> {
    return Promise.all(this.sendQueues.values());
  }

  reply(sock: Zmq.Router, request: Message, msgType: string, content: Record<string, unknown>): void {
    void this.send(sock, {
      identities: request.identities,
      header: newHeader(msgType, this.session),
      parent: request.header,
      metadata: {},
      content,
      buffers: [],
    });
  }

  status(state: "busy" | "idle", parent: Header): void {
    this.publish("status", { execution_state: state }, { parent });
  }

  override async handleShellMessage(sock: Zmq.Router, ...frames: Buffer[]): Promise<void> {
    const channel = sock === this.control ? "control" : "shell";
    let msg: Message;
    try {
      msg = decode(this.signer, frames);
    } catch (err) {
      this.options.log(`dropped a message on ${channel}: ${(err as Error).message}`);
      return;
    }
    try {
      await context.run({ parent: msg.header }, () => this.dispatch(sock, msg));
    } catch (err) {
      this.options.log(`${msg.header.msg_type} on ${channel} failed: ${(err as Error).stack ?? String(err)}`);
    }
  }

  private async dispatch(sock: Zmq.Router, msg: Message): Promise<void> {
    const type = msg.header.msg_type;
    if (type === "execute_request") {
      this.lastCell = msg.header;
      return this.executions.execute(msg);
    }
    this.status("busy", msg.header);
    try {
      this.handleOther(sock, msg);
    } finally {
      this.status("idle", msg.header);
      // A cell is still running: tell the front end the kernel is busy with it again.
      const running = this.executions.running;
      if (running && !this.shuttingDown) this.status("busy", running.parent);
    }
  }

  private handleOther(sock: Zmq.Router, msg: Message): void {
    const c = msg.content;
    switch (msg.header.msg_type) {
      case "kernel_info_request":
        return this.reply(sock, msg, "kernel_info_reply", this.kernelInfo());
      case "comm_info_request": {
        const target = typeof c.target_name === "string" ? c.target_name : undefined;
        return this.reply(sock, msg, "comm_info_reply", { status: "ok", comms: this.comms.info(target) });
      }
      case "comm_open":
        return this.comms.handleOpen(msg);
      case "comm_msg":
        return this.comms.handleMsg(msg);
      case "comm_close":
        return this.comms.handleClose(msg);
      case "is_complete_request":
        return this.reply(
          sock,
          msg,
          "is_complete_reply",
          this.safely(() => ({ ...this.handler.handleIsComplete(c) }), { status: "unknown" }),
        );
      case "inspect_request":
        return this.reply(
          sock,
          msg,
          "inspect_reply",
          this.safely(() => ({ ...this.handler.handleInspect(c) }), { status: "ok", found: false, data: {}, metadata: {} }),
        );
      case "complete_request":
        return this.reply(
          sock,
          msg,
          "complete_reply",
          this.safely(() => ({ ...this.handler.handleComplete(c) }), {
            status: "ok",
            matches: [],
            cursor_start: c.cursor_pos ?? 0,
            cursor_end: c.cursor_pos ?? 0,
            metadata: {},
          }),
        );
      case "history_request":
        return this.reply(sock, msg, "history_reply", historyReply(this.executions.history, c));
      case "interrupt_request":
        this.executions.interrupt();
        return this.reply(sock, msg, "interrupt_reply", { status: "ok" });
      case "shutdown_request": {
        const content = { status: "ok", restart: Boolean(c.restart) };
        this.shuttingDown = true;
        this.reply(sock, msg, "shutdown_reply", content);
        this.publish("shutdown_reply", content, { parent: msg.header });
        return this.options.onShutdown();
      }
      default:
        this.options.log(`unknown msg_type "${msg.header.msg_type}"; ignored`);
    }
  }

  private safely<T>(fn: () => T, fallback: T): T {
    try {
      return fn();
    } catch (err) {
      this.options.log(`tslab failed: ${(err as Error).stack ?? String(err)}`);
      return fallback;
    }
  }

  private kernelInfo(): Record<string, unknown> {
    const base = this.handler.handleKernel();
    const ts = tslabRequire("@tslab/typescript-for-tslab") as { version: string };
    return {
      ...base,
      status: "ok",
      protocol_version: PROTOCOL_VERSION,
      implementation: "lora-lab",
      implementation_version: this.options.implementationVersion,
      language_info: { ...base.language_info, name: "typescript", version: ts.version, file_extension: ".ts", mimetype: "text/typescript" },
      banner: `lora-lab ${this.options.implementationVersion}: TypeScript ${ts.version} on Node ${process.version} (tslab executor)`,
      help_links: [{ text: "lora-lab", url: "https://www.npmjs.com/package/lora-lab" }],
    };
  }
}
