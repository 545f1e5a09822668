"""Drives the installed lora-lab kernel with jupyter_client (an independent client: its own wire
codec and HMAC) and records what it sees. One JSON line on stdout: {check name: {ok, ...facts}}.

Run: JUPYTER_PATH=<prefix>/share/jupyter LORA_LAB_KERNEL=<name> /usr/bin/python3 comm_checks.py
The kernel runs in a fresh temporary folder, outside the lora-lab package.
"""
import json
import os
import signal
import struct
import sys
import tempfile
import time
import traceback
from queue import Empty

from jupyter_client.manager import start_new_kernel
from jupyter_client.utils import run_sync

KERNEL = os.environ.get("LORA_LAB_KERNEL", "lora-lab")
TIMEOUT = 120
results = {}
cwd = tempfile.mkdtemp(prefix="lora-lab-kernel-")
km, kc = start_new_kernel(kernel_name=KERNEL, startup_timeout=TIMEOUT, cwd=cwd)
shell = kc.shell_channel.socket


def iopub_until(pred, timeout=TIMEOUT):
    """iopub messages up to and including the first one for which pred(msg) is true."""
    seen = []
    deadline = time.time() + timeout
    while True:
        left = deadline - time.time()
        if left <= 0:
            raise AssertionError(f"timed out; saw {[(m['msg_type'], m['content']) for m in seen][-8:]}")
        try:
            msg = kc.get_iopub_msg(timeout=left)
        except Empty:
            continue
        seen.append(msg)
        if pred(msg):
            return seen


def parent_id(msg):
    return msg["parent_header"].get("msg_id")


def idle_of(msg_id):
    return lambda m: m["msg_type"] == "status" and m["content"]["execution_state"] == "idle" and parent_id(m) == msg_id


def shell_reply(msg_id, timeout=TIMEOUT):
    deadline = time.time() + timeout
    while True:
        reply = kc.get_shell_msg(timeout=max(0.1, deadline - time.time()))
        if parent_id(reply) == msg_id:
            return reply


def execute(code, timeout=TIMEOUT):
    msg_id = kc.execute(code)
    reply = shell_reply(msg_id, timeout)
    msgs = iopub_until(idle_of(msg_id), timeout)
    mine = [m for m in msgs if parent_id(m) == msg_id]
    result = [m["content"]["data"]["text/plain"] for m in mine if m["msg_type"] == "execute_result"]
    return reply["content"], mine, (result[0] if result else None)


def send_shell(msg_type, content, buffers=None, metadata=None):
    msg = kc.session.send(shell, msg_type, content, buffers=buffers or [], metadata=metadata or {})
    return msg["header"]["msg_id"]


def check(name):
    def wrap(fn):
        try:
            facts = fn() or {}
            results[name] = {"ok": True, **facts}
        except Exception as e:  # recorded, the vitest side reports it
            results[name] = {"ok": False, "error": f"{e!r}\n{traceback.format_exc()}"}
        return fn
    return wrap


@check("setup")
def _():
    content, _, result = execute(
        """
const comms = (globalThis as any)[Symbol.for("lora-lab.comms")];
comms.registerTarget("echo", (comm: any, open: any) => {
  comm.send({ opened: open.data, sizes: open.buffers.map((b: DataView) => b.byteLength) }, { m: 1 }, [new Uint8Array([9, 8, 7])]);
  comm.onMsg((m: any) => {
    if (m.data.close) { comm.close({ bye: true }); return; }
    const views = m.buffers.map((b: DataView) => new Uint8Array(b.buffer, b.byteOffset, b.byteLength));
    comm.send({ echo: m.data, bytes: views.map((v: Uint8Array) => Array.from(v)) }, {}, views.map((v: Uint8Array) => v.map((x) => 255 - x)));
  });
  comm.onClose((m: any) => { (globalThis as any).closedWith = m.data; });
});
typeof comms.open
"""
    )
    assert content["status"] == "ok", content
    return {"result": result}


@check("client_opens_with_buffers")
def _():
    comm_id = "c0ffee01"
    open_id = send_shell("comm_open", {"comm_id": comm_id, "target_name": "echo", "data": {"a": 1}}, buffers=[b"\x01\x02\x03", b"abcd"])
    msgs = iopub_until(idle_of(open_id))
    statuses = [m["content"]["execution_state"] for m in msgs if m["msg_type"] == "status" and parent_id(m) == open_id]
    sent = [m for m in msgs if m["msg_type"] == "comm_msg"]
    assert len(sent) == 1, msgs
    msg_id = send_shell("comm_msg", {"comm_id": comm_id, "data": {"q": "x"}}, buffers=[b"\x00\x10\xff"])
    echo = [m for m in iopub_until(idle_of(msg_id)) if m["msg_type"] == "comm_msg"]
    info_all = kc.comm_info()
    info_echo = kc.comm_info(target_name="echo")
    info_other = kc.comm_info(target_name="other")
    replies = {k: shell_reply(v)["content"] for k, v in (("all", info_all), ("echo", info_echo), ("other", info_other))}
    close_id = send_shell("comm_close", {"comm_id": comm_id, "data": {"reason": "done"}})
    iopub_until(idle_of(close_id))
    _, _, closed_with = execute("JSON.stringify((globalThis as any).closedWith)")
    after_close = shell_reply(kc.comm_info(target_name="echo"))["content"]
    return {
        "statuses": statuses,
        "reply": {"content": sent[0]["content"], "metadata": sent[0]["metadata"], "buffers": [list(bytes(b)) for b in sent[0]["buffers"]], "parent": parent_id(sent[0]) == open_id},
        "echo": {"content": echo[0]["content"], "buffers": [list(bytes(b)) for b in echo[0]["buffers"]], "parent": parent_id(echo[0]) == msg_id},
        "info": {k: {"status": v["status"], "comms": v["comms"]} for k, v in replies.items()},
        "closedWith": closed_with,
        "infoAfterClose": after_close["comms"],
        "commId": comm_id,
    }


@check("kernel_closes_comm")
def _():
    comm_id = "c0ffee02"
    open_id = send_shell("comm_open", {"comm_id": comm_id, "target_name": "echo", "data": {}})
    iopub_until(idle_of(open_id))
    msg_id = send_shell("comm_msg", {"comm_id": comm_id, "data": {"close": True}})
    closes = [m for m in iopub_until(idle_of(msg_id)) if m["msg_type"] == "comm_close"]
    return {"closes": [{"content": m["content"], "parent": parent_id(m) == msg_id} for m in closes]}


@check("kernel_opens_with_buffers")
def _():
    exec_id = kc.execute(
        """
const c = (globalThis as any)[Symbol.for("lora-lab.comms")].open("client.target", { hello: 1 }, { version: "2.1.0" }, [new Float32Array([1.5, -2])]);
c.onMsg((m: any) => c.send({ got: m.data, n: m.buffers[0].getUint16(0, true) }));
c.commId
"""
    )
    msgs = iopub_until(idle_of(exec_id))
    opens = [m for m in msgs if m["msg_type"] == "comm_open"]
    result = [m["content"]["data"]["text/plain"] for m in msgs if m["msg_type"] == "execute_result"]
    comm_id = opens[0]["content"]["comm_id"]
    msg_id = send_shell("comm_msg", {"comm_id": comm_id, "data": {"k": 2}}, buffers=[struct.pack("<H", 513)])
    answers = [m for m in iopub_until(idle_of(msg_id)) if m["msg_type"] == "comm_msg"]
    return {
        "open": {"content": opens[0]["content"], "metadata": opens[0]["metadata"], "parent": parent_id(opens[0]) == exec_id, "buffers": [list(struct.unpack("<2f", bytes(b))) for b in opens[0]["buffers"]]},
        "result": result[0] if result else None,
        "answer": answers[0]["content"]["data"] if answers else None,
    }


@check("unknown_target")
def _():
    open_id = send_shell("comm_open", {"comm_id": "deadbeef", "target_name": "nobody.home", "data": {}})
    msgs = iopub_until(idle_of(open_id))
    return {"closes": [{"comm_id": m["content"]["comm_id"], "parent": parent_id(m) == open_id} for m in msgs if m["msg_type"] == "comm_close"]}


@check("comms_while_cell_awaits")
def _():
    exec_id = kc.execute(
        """
const released = await new Promise((resolve) => (globalThis as any)[Symbol.for("lora-lab.comms")].registerTarget("release", (comm: any, open: any) => { comm.send({ ack: open.data.value }); resolve(open.data.value); }));
`released with ${released}`
"""
    )
    iopub_until(lambda m: m["msg_type"] == "execute_input" and parent_id(m) == exec_id)
    open_id = send_shell("comm_open", {"comm_id": "c0ffee03", "target_name": "echo", "data": {"during": True}})
    during = iopub_until(idle_of(open_id))
    # After the comm's idle the kernel says it is busy again with the cell.
    rebusy = iopub_until(lambda m: m["msg_type"] == "status")
    release_id = send_shell("comm_open", {"comm_id": "c0ffee04", "target_name": "release", "data": {"value": 42}})
    rest = iopub_until(idle_of(exec_id))
    reply = shell_reply(exec_id)["content"]
    echo = [m for m in during if m["msg_type"] == "comm_msg"]
    ack = [m for m in rest if m["msg_type"] == "comm_msg"]
    result = [m["content"]["data"]["text/plain"] for m in rest if m["msg_type"] == "execute_result"]
    comm_statuses = [(m["content"]["execution_state"], parent_id(m) == open_id) for m in during if m["msg_type"] == "status"]
    return {
        "echoParentIsComm": bool(echo) and parent_id(echo[0]) == open_id,
        "commStatuses": comm_statuses,
        "rebusy": {"state": rebusy[-1]["content"]["execution_state"], "parentIsCell": parent_id(rebusy[-1]) == exec_id},
        "ackParentIsComm": bool(ack) and parent_id(ack[0]) == release_id,
        "ack": ack[0]["content"]["data"] if ack else None,
        "result": result[0] if result else None,
        "status": reply["status"],
    }


@check("bad_messages_dropped")
def _():
    import hmac as hmaclib
    import hashlib

    def frames(header_type, content, key=None, sig=None, raw_header=None):
        msg = kc.session.msg(header_type, content)
        parts = [raw_header if raw_header is not None else json.dumps(msg["header"], default=str).encode(), b"{}", b"{}", json.dumps(content).encode()]
        if sig is None:
            h = hmaclib.new(key, digestmod=hashlib.sha256)
            for p in parts:
                h.update(p)
            sig = h.hexdigest().encode()
        return [b"<IDS|MSG>", sig] + parts

    code = {"code": "(globalThis as any).hacked = 1", "silent": False}
    shell.send_multipart(frames("execute_request", code, key=b"not the key"))  # wrongly signed
    shell.send_multipart(frames("execute_request", code, sig=b""))  # unsigned
    shell.send_multipart(frames("execute_request", code, key=kc.session.key, raw_header=b"{not json"))  # malformed, signed
    shell.send_multipart([b"<IDS|MSG>", b"abc", b"{}"])  # truncated
    shell.send_multipart([b"no delimiter at all"])
    info_id = kc.kernel_info()
    first = kc.get_shell_msg(timeout=TIMEOUT)
    _, _, hacked = execute("typeof (globalThis as any).hacked")
    return {"firstReplyIsKernelInfo": parent_id(first) == info_id and first["msg_type"] == "kernel_info_reply", "hacked": hacked}


def train_cell(pause):
    before = (
        'beforeStep: async (step: number) => { if (step === 3) { console.log("paused before step 4"); await go; } },'
        if pause
        else ""
    )
    return f"""
const go = new Promise<void>((resolve) => (globalThis as any)[Symbol.for("lora-lab.comms")].registerTarget("go", () => resolve()));
((globalThis as any)[Symbol.for("lora-lab.signal")] as AbortSignal).addEventListener("abort", () => console.log("abort seen"));
const run = await lab.train(model, {{ data: windows, batchSize: 4, steps: 100000, lr: 1e-3, {before}
  onEvent: (e: any) => {{ if (e.type === "step") console.log(`step ${{e.step}}`); }} }});
(globalThis as any).trainResult = {{ steps: run.steps, aborted: run.aborted }};
"""


@check("output_keeps_its_cell")
def _():
    first = kc.execute(
        """
const g = globalThis as any;
g.gate = new Promise<void>((resolve) => (g.openGate = resolve));
g.gate.then(() => console.log("then from cell A"));
g.gate.then(() => setTimeout(() => { console.log("timer from cell A"); g.timerDone(); }, 0));
"armed"
"""
    )
    iopub_until(idle_of(first))
    # Cell B opens A's gate and waits for A's timer to have printed: no timing involved.
    second = kc.execute('const gb = globalThis as any; gb.openGate(); await new Promise((r) => (gb.timerDone = r)); console.log("cell B"); "done"')
    msgs = iopub_until(idle_of(second))
    streams = {m["content"]["text"].strip(): ("A" if parent_id(m) == first else "B" if parent_id(m) == second else "?") for m in msgs if m["msg_type"] == "stream"}
    return {"streams": streams}


@check("display_hook")
def _():
    exec_id = kc.execute(
        """
import * as lab from "lora-lab";
const fig = (n: number) => lab.scheduleFigure({ name: `lr${n}`, lr: [1, 0.5, 0.25].map((x) => x * n) });
const shown = lab.show(fig(1), { plotlyJs: "omit" });
shown.update(fig(2));
shown.via
"""
    )
    msgs = [m for m in iopub_until(idle_of(exec_id)) if m["msg_type"] in ("display_data", "update_display_data")]
    return {
        "types": [m["msg_type"] for m in msgs],
        "mimes": [sorted(m["content"]["data"]) for m in msgs],
        "ids": [m["content"]["transient"].get("display_id") for m in msgs],
        "names": [m["content"]["data"]["application/vnd.plotly.v1+json"]["data"][0]["name"] for m in msgs],
        "parents": [parent_id(m) == exec_id for m in msgs],
    }


@check("errors")
def _():
    out = {}
    for key, code in (
        ("typeError", 'const n: number = "x";'),
        ("rejected", 'await Promise.reject(new RangeError("out of range"));'),
        ("thrownString", 'throw "plain string";'),
    ):
        content, msgs, _ = execute(code)
        errs = [m["content"] for m in msgs if m["msg_type"] == "error"]
        out[key] = {"status": content["status"], "ename": content.get("ename"), "evalue": content.get("evalue"), "traceback": content.get("traceback"), "published": errs[0]["ename"] if errs else None}
    # stop_on_error: a request queued behind a failing cell is aborted, not run.
    first = kc.execute('await new Promise((resolve) => (globalThis as any)[Symbol.for("lora-lab.comms")].registerTarget("fail-gate", () => resolve(0))); throw new Error("first fails");')
    iopub_until(lambda m: m["msg_type"] == "execute_input" and parent_id(m) == first)
    second = kc.execute('(globalThis as any).secondRan = true;')
    send_shell("comm_open", {"comm_id": "fail-gate-1", "target_name": "fail-gate", "data": {}})
    r1 = shell_reply(first)["content"]
    r2 = shell_reply(second)["content"]
    iopub_until(idle_of(second))
    _, _, ran = execute("typeof (globalThis as any).secondRan")
    out["stopOnError"] = {"first": r1["status"], "second": r2["status"], "secondRan": ran}
    return out


@check("train_setup")
def _():
    content, msgs, result = execute(
        """
import * as lab from "lora-lab";
import * as tf from "@tensorflow/tfjs";
await lab.ready();
lab.seed(0);
const model = lab.gpt2("tiny");
const windows = lab.syntheticSequences({ task: "count", vocabSize: 16, length: 16, count: 64, seed: 0 });
// The cell's tf is lora-lab's instance: it sees the backend ready() chose and the model's weights.
[tf.getBackend(), tf.memory().numTensors > 0, typeof lab.train]
""",
        timeout=300,
    )
    return {"status": content["status"], "result": result, "error": content.get("evalue")}


def interrupt_run(name, pause, how):
    exec_id = kc.execute(train_cell(pause))
    marker = "paused before step 4" if pause else "step 2"
    printed = iopub_until(lambda m: m["msg_type"] == "stream" and parent_id(m) == exec_id and marker in m["content"]["text"], timeout=120)
    if how == "message":
        msg = kc.session.msg("interrupt_request", {})
        kc.control_channel.send(msg)
        interrupt_reply = run_sync(kc.control_channel.get_msg)(timeout=TIMEOUT)
        assert interrupt_reply["msg_type"] == "interrupt_reply", interrupt_reply
    else:
        os.kill(km.provisioner.process.pid, signal.SIGINT)
    # The cell's AbortSignal fired (the cell prints it) before the paused loop may go on.
    seen = iopub_until(lambda m: m["msg_type"] == "stream" and parent_id(m) == exec_id and "abort seen" in m["content"]["text"], timeout=120)
    printed = printed + seen
    if pause:
        go_id = send_shell("comm_open", {"comm_id": f"go-{name}", "target_name": "go", "data": {}})
    rest = iopub_until(idle_of(exec_id), timeout=120)
    reply = shell_reply(exec_id)["content"]
    errors = [m["content"] for m in rest if m["msg_type"] == "error" and parent_id(m) == exec_id]
    _, _, after = execute("JSON.stringify((globalThis as any).trainResult)")
    steps_printed = [int(line.split()[1]) for m in printed + rest if m["msg_type"] == "stream" for line in m["content"]["text"].splitlines() if line.startswith("step ")]
    return {
        "status": reply["status"],
        "ename": reply.get("ename"),
        "evalue": reply.get("evalue"),
        "errorOutputs": len(errors),
        "trainResult": json.loads(after[1:-1]) if after else None,
        "lastStepPrinted": max(steps_printed) if steps_printed else None,
    }


@check("interrupt_paused_train_by_message")
def _():
    return interrupt_run("msg", True, "message")


@check("interrupt_running_train_by_message")
def _():
    return interrupt_run("run", False, "message")


@check("interrupt_paused_train_by_sigint")
def _():
    return interrupt_run("sig", True, "signal")


@check("interrupt_stuck_cell")
def _():
    # A cell that never settles and never reads its AbortSignal is abandoned at once.
    exec_id = kc.execute("await new Promise(() => {});")
    iopub_until(lambda m: m["msg_type"] == "execute_input" and parent_id(m) == exec_id)
    kc.control_channel.send(kc.session.msg("interrupt_request", {}))
    reply = shell_reply(exec_id)["content"]
    iopub_until(idle_of(exec_id))
    _, _, after = execute("1 + 1")
    return {"status": reply["status"], "ename": reply.get("ename"), "after": after}


@check("shutdown_exits")
def _():
    proc = km.provisioner.process
    pid = proc.pid
    kc.shutdown()
    deadline = time.time() + 30
    while proc.poll() is None and time.time() < deadline:
        time.sleep(0.1)
    return {"pid": pid, "returncode": proc.poll()}


print(json.dumps(results))
try:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
except Exception:
    pass
