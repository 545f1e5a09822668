/**
 * A comm manager that implements the kernel's contract in memory: it records what widgets send
 * (open / msg / close, with buffers) and lets a test play the front end (`fromFrontend`).
 */
export interface Sent {
  kind: "open" | "msg" | "close";
  commId: string;
  target: string;
  data: any;
  metadata: any;
  buffers: DataView[];
}

interface Handlers {
  msg: ((m: { data: any; metadata: any; buffers: DataView[] }) => void)[];
  close: ((m: { data: any; metadata: any; buffers: DataView[] }) => void)[];
}

const toViews = (buffers: (ArrayBuffer | ArrayBufferView)[] = []) =>
  buffers.map((b) => (b instanceof ArrayBuffer ? new DataView(b) : new DataView(b.buffer, b.byteOffset, b.byteLength)));

export class FakeCommManager {
  readonly sent: Sent[] = [];
  readonly targets = new Map<string, (comm: any, msg: any) => void>();
  private readonly handlers = new Map<string, Handlers>();
  private readonly comms = new Map<string, any>();
  private next = 0;

  registerTarget(name: string, handler: (comm: any, msg: any) => void): void {
    this.targets.set(name, handler);
  }
  unregisterTarget(name: string): void {
    this.targets.delete(name);
  }

  private makeComm(target: string, commId: string) {
    const handlers: Handlers = { msg: [], close: [] };
    this.handlers.set(commId, handlers);
    let closed = false;
    const comm = {
      commId,
      targetName: target,
      get closed() {
        return closed;
      },
      send: (data: any, metadata: any = {}, buffers: (ArrayBuffer | ArrayBufferView)[] = []) => {
        this.sent.push({ kind: "msg", commId, target, data: JSON.parse(JSON.stringify(data)), metadata, buffers: toViews(buffers) });
      },
      close: (data: any = {}, metadata: any = {}) => {
        closed = true;
        this.sent.push({ kind: "close", commId, target, data, metadata, buffers: [] });
      },
      onMsg: (h: Handlers["msg"][number]) => handlers.msg.push(h),
      onClose: (h: Handlers["close"][number]) => handlers.close.push(h),
    };
    this.comms.set(commId, comm);
    return comm;
  }

  open(target: string, data: any = {}, metadata: any = {}, buffers: (ArrayBuffer | ArrayBufferView)[] = []) {
    const commId = `comm-${++this.next}`;
    const comm = this.makeComm(target, commId);
    // JSON round trip: what goes on the wire must be plain JSON (buffers travel separately).
    this.sent.push({ kind: "open", commId, target, data: JSON.parse(JSON.stringify(data)), metadata, buffers: toViews(buffers) });
    return comm;
  }

  /** The front end sends a comm_msg to an open comm. */
  fromFrontend(commId: string, data: any, buffers: (ArrayBuffer | ArrayBufferView)[] = []): void {
    const h = this.handlers.get(commId);
    if (!h) throw new Error(`no comm ${commId}`);
    for (const f of h.msg) f({ data, metadata: {}, buffers: toViews(buffers) });
  }

  /** The front end opens a comm on a registered target (as the control comm is opened). */
  frontendOpen(target: string, data: any = {}): string {
    const handler = this.targets.get(target);
    if (!handler) throw new Error(`no target ${target}`);
    const commId = `fe-${++this.next}`;
    handler(this.makeComm(target, commId), { data, metadata: {}, buffers: [] });
    return commId;
  }

  messagesTo(commId: string): Sent[] {
    return this.sent.filter((s) => s.commId === commId);
  }
  clear(): void {
    this.sent.length = 0;
  }
}

export function installFakeComms(): FakeCommManager {
  const fake = new FakeCommManager();
  (globalThis as any)[Symbol.for("lora-lab.comms")] = fake;
  return fake;
}
