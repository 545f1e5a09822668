import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { beforeAll, describe, expect, it } from "vitest";
import { installKernel, processAlive, runPythonCheck } from "./harness.js";

// comm_checks.py drives one kernel with jupyter_client (its own wire codec and HMAC) through every
// scenario in order and reports what it saw; each test below asserts one scenario.
type Check = { ok: boolean; error?: string; [k: string]: any };
let checks: Record<string, Check>;
let kernelLog = "";

beforeAll(async () => {
  const kernel = installKernel(mkdtempSync(join(tmpdir(), "lora-lab-comms-")));
  const { result, stderr } = await runPythonCheck<Record<string, Check>>("comm_checks.py", kernel);
  checks = result;
  kernelLog = stderr;
}, 600_000);

function check(name: string): Check {
  const c = checks[name];
  expect(c, `check ${name} did not run`).toBeDefined();
  expect(c.error ?? "").toBe("");
  expect(c.ok).toBe(true);
  return c;
}

describe("lora-lab kernel comms (jupyter_client)", () => {
  it("comm_open from the client with binary buffers reaches the target; its reply carries buffers and the open as parent", () => {
    const c = check("client_opens_with_buffers");
    expect(c.statuses).toEqual(["busy", "idle"]);
    expect(c.reply).toEqual({
      content: { comm_id: c.commId, data: { opened: { a: 1 }, sizes: [3, 4] } },
      metadata: { m: 1 },
      buffers: [[9, 8, 7]],
      parent: true,
    });
  });

  it("comm_msg buffers arrive as DataViews and comm.send buffers come back byte for byte", () => {
    const c = check("client_opens_with_buffers");
    expect(c.echo).toEqual({
      content: { comm_id: c.commId, data: { echo: { q: "x" }, bytes: [[0, 16, 255]] } },
      buffers: [[255, 239, 0]],
      parent: true,
    });
  });

  it("comm_info_request lists open comms, filtered by target_name", () => {
    const c = check("client_opens_with_buffers");
    const open = { [c.commId]: { target_name: "echo" } };
    expect(c.info).toEqual({ all: { status: "ok", comms: open }, echo: { status: "ok", comms: open }, other: { status: "ok", comms: {} } });
  });

  it("comm_close from the client runs onClose with its data and forgets the comm", () => {
    const c = check("client_opens_with_buffers");
    expect(c.closedWith).toBe(`'{"reason":"done"}'`);
    expect(c.infoAfterClose).toEqual({});
  });

  it("comm.close() in the kernel sends comm_close with its data", () => {
    expect(check("kernel_closes_comm").closes).toEqual([{ content: { comm_id: "c0ffee02", data: { bye: true } }, parent: true }]);
  });

  it("comms.open() from a cell sends comm_open with data, metadata and buffers, parented to the cell", () => {
    const c = check("kernel_opens_with_buffers");
    expect(c.open.content).toMatchObject({ target_name: "client.target", data: { hello: 1 } });
    expect(c.open.metadata).toEqual({ version: "2.1.0" });
    expect(c.open.buffers).toEqual([[1.5, -2]]);
    expect(c.open.parent).toBe(true);
    expect(c.result).toBe(`'${c.open.content.comm_id}'`);
    expect(c.answer).toEqual({ got: { k: 2 }, n: 513 });
  });

  it("comm_open for an unknown target is answered with comm_close and a log line", () => {
    expect(check("unknown_target").closes).toEqual([{ comm_id: "deadbeef", parent: true }]);
    expect(kernelLog).toMatch(/comm_open for unknown target "nobody.home"/);
  });

  it("handles comm messages while a cell awaits: busy/idle with the comm as parent, then busy again for the cell", () => {
    const c = check("comms_while_cell_awaits");
    expect(c.echoParentIsComm).toBe(true);
    expect(c.commStatuses).toEqual([
      ["busy", true],
      ["idle", true],
    ]);
    expect(c.rebusy).toEqual({ state: "busy", parentIsCell: true });
    expect(c.ackParentIsComm).toBe(true);
    expect(c.ack).toEqual({ ack: 42 });
    expect(c.result).toBe("'released with 42'");
    expect(c.status).toBe("ok");
  });

  it("drops wrongly signed, unsigned and malformed messages with a log line and keeps serving", () => {
    const c = check("bad_messages_dropped");
    expect(c.firstReplyIsKernelInfo).toBe(true);
    expect(c.hacked).toBe("'undefined'");
    for (const why of [
      "invalid HMAC signature",
      "unsigned message",
      "header frame is not JSON",
      "expected a signature and 4 JSON frames",
      "no <IDS|MSG> delimiter",
    ]) {
      expect(kernelLog).toContain(`dropped a message on shell: ${why}`);
    }
  });
});

describe("lora-lab kernel cells", () => {
  it('imports "lora-lab" and "@tensorflow/tfjs" from a folder outside the package, and tf is lora-lab\'s instance', () => {
    const c = check("train_setup");
    expect(c.status).toBe("ok");
    expect(c.result).toBe("[ 'wasm', true, 'function' ]");
  });
});

describe("lora-lab kernel errors", () => {
  it("a type error replies TSError with the compiler's message and its position in the cell", () => {
    expect(check("errors").typeError).toEqual({
      status: "error",
      ename: "TSError",
      evalue: "1:7 - Type 'string' is not assignable to type 'number'.",
      traceback: ["TSError: 1:7 - Type 'string' is not assignable to type 'number'."],
      published: "TSError",
    });
  });

  it("an awaited rejection replies with the error's name, message and the cell's frames only", () => {
    const r = check("errors").rejected;
    expect(r).toMatchObject({ status: "error", ename: "RangeError", evalue: "out of range", published: "RangeError" });
    expect(r.traceback[0]).toBe("RangeError: out of range");
    expect(r.traceback.slice(1).length).toBeGreaterThan(0);
    for (const line of r.traceback.slice(1)) expect(line).toMatch(/evalmachine/);
  });

  it("a thrown non-Error value is described", () => {
    expect(check("errors").thrownString).toMatchObject({ ename: "Error", evalue: "thrown value: 'plain string'" });
  });

  it("stop_on_error aborts a request queued behind a failing cell without running it", () => {
    expect(check("errors").stopOnError).toEqual({ first: "error", second: "aborted", secondRan: "'undefined'" });
  });
});

describe("lora-lab kernel output routing", () => {
  it("output from promise continuations and timers a cell set up goes to that cell, even while another runs", () => {
    expect(check("output_keeps_its_cell").streams).toEqual({ "then from cell A": "A", "timer from cell A": "A", "cell B": "B" });
  });

  it("lab.show sends one display_data with Plotly JSON, HTML and text; update() sends update_display_data with the same display_id", () => {
    const c = check("display_hook");
    expect(c.types).toEqual(["display_data", "update_display_data"]);
    const mimes = ["application/vnd.plotly.v1+json", "text/html", "text/plain"];
    expect(c.mimes).toEqual([mimes, mimes]);
    expect(c.ids[0]).toMatch(/\S/);
    expect(c.ids[1]).toBe(c.ids[0]);
    expect(c.names).toEqual(["lr1", "lr2"]);
    expect(c.parents).toEqual([true, true]);
  });
});

describe("lora-lab kernel interrupts a train() loop", () => {
  for (const [name, how] of [
    ["interrupt_paused_train_by_message", "interrupt_request"],
    ["interrupt_paused_train_by_sigint", "SIGINT"],
  ] as const) {
    it(`${how} while train() waits before step 4 stops it there; the cell ends with KeyboardInterrupt`, () => {
      const c = check(name);
      expect(c.trainResult).toEqual({ steps: 3, aborted: true });
      expect(c.lastStepPrinted).toBe(3);
      expect(c.status).toBe("error");
      expect(c.ename).toBe("KeyboardInterrupt");
      expect(c.evalue).toMatch(/Interrupted/);
      expect(c.errorOutputs).toBe(1);
    });
  }

  it("interrupt_request during a running 100000-step train() stops it after the step in progress", () => {
    const c = check("interrupt_running_train_by_message");
    expect(c.trainResult.aborted).toBe(true);
    // The interrupt was sent after step 2 was printed; the loop finishes the step it is in and stops.
    expect(c.trainResult.steps).toBeGreaterThanOrEqual(2);
    expect(c.trainResult.steps).toBeLessThan(100_000);
    expect(c.ename).toBe("KeyboardInterrupt");
  });
});

describe("lora-lab kernel interrupts other cells", () => {
  it("interrupt_request abandons a cell that awaits forever without reading its signal; the next cell runs", () => {
    expect(check("interrupt_stuck_cell")).toMatchObject({ status: "error", ename: "KeyboardInterrupt", after: "2" });
  });
});

describe("lora-lab kernel shutdown", () => {
  it("shutdown_request makes the kernel exit by itself with code 0; its PID is gone", () => {
    const c = check("shutdown_exits");
    expect(c.returncode).toBe(0);
    expect(processAlive(c.pid)).toBe(false);
  });
});
