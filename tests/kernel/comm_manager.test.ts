import { describe, expect, it } from "vitest";
import { KernelCommManager } from "../../kernel/comms.js";
import { newHeader, type Message } from "../../kernel/wire.js";

function fake() {
  const sent: { type: string; content: any; metadata: any; buffers: number[][] }[] = [];
  const logs: string[] = [];
  const manager = new KernelCommManager({
    publish: (type, content, metadata, buffers) => sent.push({ type, content, metadata, buffers: buffers.map((b) => [...b]) }),
    log: (l) => logs.push(l),
  });
  return { manager, sent, logs };
}

const incoming = (type: string, content: object, buffers: Buffer[] = []): Message => ({
  identities: [],
  header: newHeader(type, "s"),
  parent: {},
  metadata: { m: true },
  content,
  buffers,
});

describe("KernelCommManager", () => {
  it("open() publishes comm_open with target, data, metadata and buffers; send() and close() follow", () => {
    const { manager, sent } = fake();
    const comm = manager.open("t", { a: 1 }, { version: "2.1.0" }, [new Uint8Array([7])]);
    comm.send({ b: 2 }, undefined, [new Uint16Array([258]).buffer]);
    comm.close({ bye: 1 });
    expect(sent).toEqual([
      {
        type: "comm_open",
        content: { comm_id: comm.commId, target_name: "t", data: { a: 1 } },
        metadata: { version: "2.1.0" },
        buffers: [[7]],
      },
      { type: "comm_msg", content: { comm_id: comm.commId, data: { b: 2 } }, metadata: {}, buffers: [[2, 1]] },
      { type: "comm_close", content: { comm_id: comm.commId, data: { bye: 1 } }, metadata: {}, buffers: [] },
    ]);
    expect(comm.closed).toBe(true);
  });

  it("send() on a closed comm drops the message with a log line instead of throwing", () => {
    const { manager, sent, logs } = fake();
    const comm = manager.open("t");
    comm.close();
    comm.send({ late: true });
    expect(sent.map((s) => s.type)).toEqual(["comm_open", "comm_close"]);
    expect(logs).toEqual([`comm ${comm.commId} (target "t") is closed; comm_msg dropped`]);
  });

  it("hands a front end's comm_open to its target and routes comm_msg / comm_close to the comm's handlers", () => {
    const { manager } = fake();
    const seen: string[] = [];
    manager.registerTarget("t", (comm, open) => {
      seen.push(`open ${JSON.stringify(open.data)} ${open.buffers[0].getUint8(0)}`);
      comm.onMsg((m) => seen.push(`msg ${JSON.stringify(m.data)} ${JSON.stringify(m.metadata)}`));
      comm.onClose((m) => seen.push(`close ${JSON.stringify(m.data)}`));
    });
    manager.handleOpen(incoming("comm_open", { comm_id: "c1", target_name: "t", data: { x: 1 } }, [Buffer.from([42])]));
    expect(manager.info()).toEqual({ c1: { target_name: "t" } });
    expect(manager.info("other")).toEqual({});
    manager.handleMsg(incoming("comm_msg", { comm_id: "c1", data: { y: 2 } }));
    manager.handleClose(incoming("comm_close", { comm_id: "c1", data: { z: 3 } }));
    expect(seen).toEqual(['open {"x":1} 42', 'msg {"y":2} {"m":true}', 'close {"z":3}']);
    expect(manager.info()).toEqual({});
  });

  it("answers comm_open for an unregistered target with comm_close and a log line naming the registered ones", () => {
    const { manager, sent, logs } = fake();
    manager.registerTarget("known", () => undefined);
    manager.handleOpen(incoming("comm_open", { comm_id: "c2", target_name: "unknown", data: {} }));
    expect(sent).toEqual([{ type: "comm_close", content: { comm_id: "c2", data: {} }, metadata: {}, buffers: [] }]);
    expect(logs[0]).toMatch(/unknown target "unknown" \(registered: known\)/);
  });

  it("a target handler that throws is logged and its comm closed; the manager keeps working", () => {
    const { manager, sent, logs } = fake();
    manager.registerTarget("bad", () => {
      throw new Error("kaput");
    });
    manager.handleOpen(incoming("comm_open", { comm_id: "c3", target_name: "bad", data: {} }));
    expect(logs[0]).toMatch(/target "bad" open handler threw: Error: kaput/);
    expect(sent.map((s) => s.type)).toEqual(["comm_close"]);
    expect(manager.info()).toEqual({});
  });
});
