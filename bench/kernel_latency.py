"""Startup and round-trip latency of lora-lab's Jupyter kernel, measured from an independent client
(Debian's /usr/bin/python3 with jupyter_client and pyzmq). Run by bench/extras.ts; prints one JSON line.

- cold start: spawn `node dist/cli/main.js kernel <connection file>` (what kernel.json runs) and
  time spawn -> the first kernel_info_reply on the shell socket. The request is sent right after
  the spawn on a DEALER socket that retries its connection every 5 ms (zmq's default is 100 ms,
  which would round every start up to the next 100 ms), so the reply comes as soon as the kernel
  binds and serves it.
- first cell: execute `import * as W from "lora-lab/widgets"` + create and display an IntSlider,
  time execute_request -> execute_reply (the widgets module is loaded and the cell compiled here).
- widget round trip: as a front end does when the user drags the slider, send a comm_msg
  {method: "update", state: {value}} on the widget's comm and time it -> the kernel's
  {method: "echo_update"} on iopub (widget protocol 2.1.0), and -> the kernel's idle status for it.

Usage: kernel_latency.py --cli dist/cli/main.js [--node node] [--starts 3] [--round-trips 50]
"""
import argparse
import json
import os
import statistics
import shutil
import subprocess
import tempfile
import time
import uuid

import zmq
from jupyter_client import BlockingKernelClient
from jupyter_client.connect import write_connection_file
from jupyter_client.session import Session

TIMEOUT = 120


def start_kernel(node, cli, cwd):
    """Spawns a kernel on fresh ports; returns (process, connection info, ms to the first kernel_info_reply)."""
    fname = os.path.join(cwd, f"kernel-{uuid.uuid4().hex[:8]}.json")
    key = uuid.uuid4().hex
    fname, cfg = write_connection_file(fname=fname, ip="127.0.0.1", key=key.encode(), signature_scheme="hmac-sha256")
    session = Session(key=key.encode(), signature_scheme="hmac-sha256")
    sock = zmq.Context.instance().socket(zmq.DEALER)
    sock.setsockopt(zmq.RECONNECT_IVL, 5)
    sock.setsockopt(zmq.LINGER, 0)
    sock.connect(f"tcp://127.0.0.1:{cfg['shell_port']}")
    t0 = time.perf_counter()
    proc = subprocess.Popen([node, cli, "kernel", fname], cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    request = session.send(sock, "kernel_info_request", {})
    if not sock.poll(TIMEOUT * 1000):
        proc.kill()
        raise RuntimeError(f"no kernel_info_reply within {TIMEOUT} s; kernel stderr: {proc.stderr.read().decode()[-2000:]}")
    _, msg = session.feed_identities(sock.recv_multipart())
    reply = session.deserialize(msg)
    ms = (time.perf_counter() - t0) * 1000
    sock.close()
    if reply["msg_type"] != "kernel_info_reply" or reply["parent_header"]["msg_id"] != request["header"]["msg_id"]:
        raise RuntimeError(f"expected the kernel_info_reply to our request, got {reply['msg_type']}")
    return proc, fname, ms


def stop_kernel(proc, fname):
    kc = BlockingKernelClient(connection_file=fname)
    kc.load_connection_file()
    kc.start_channels()
    kc.shutdown()
    try:
        proc.wait(20)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
    kc.stop_channels()
    os.remove(fname)


def iopub_until(kc, pred, timeout=TIMEOUT):
    deadline = time.perf_counter() + timeout
    seen = []
    while True:
        left = deadline - time.perf_counter()
        if left <= 0:
            raise RuntimeError(f"timed out waiting on iopub; last messages: {[m['msg_type'] for m in seen[-8:]]}")
        msg = kc.get_iopub_msg(timeout=left)
        seen.append(msg)
        if pred(msg):
            return msg, seen


def parent_of(msg):
    return msg["parent_header"].get("msg_id")


def is_idle(msg_id):
    return lambda m: m["msg_type"] == "status" and m["content"]["execution_state"] == "idle" and parent_of(m) == msg_id


CELL = """import * as W from "lora-lab/widgets";
const slider = new W.IntSlider({ value: 0, min: 0, max: 1000000, description: "bench" });
slider.display();"""


def widget_round_trips(fname, n):
    kc = BlockingKernelClient(connection_file=fname)
    kc.load_connection_file()
    kc.start_channels()
    kc.wait_for_ready(timeout=TIMEOUT)
    while True:  # drain what wait_for_ready left on iopub
        try:
            kc.get_iopub_msg(timeout=0.2)
        except Exception:
            break
    t0 = time.perf_counter()
    msg_id = kc.execute(CELL)
    reply = kc.get_shell_msg(timeout=TIMEOUT)
    first_cell_ms = (time.perf_counter() - t0) * 1000
    if reply["content"]["status"] != "ok":
        raise RuntimeError(f"the widget cell failed: {reply['content']}")
    _, seen = iopub_until(kc, is_idle(msg_id))
    opens = [m for m in seen if m["msg_type"] == "comm_open" and m["content"]["target_name"] == "jupyter.widget"
             and m["content"]["data"]["state"].get("_model_name") == "IntSliderModel"]
    if not opens:
        raise RuntimeError(f"the cell opened no IntSlider comm; iopub: {[m['msg_type'] for m in seen]}")
    comm_id = opens[0]["content"]["comm_id"]
    version = opens[0]["metadata"].get("version")
    echo_ms, idle_ms = [], []
    for i in range(n):
        value = i + 1
        t0 = time.perf_counter()
        sent = kc.session.send(kc.shell_channel.socket, "comm_msg",
                               {"comm_id": comm_id, "data": {"method": "update", "state": {"value": value}, "buffer_paths": []}})
        echo = lambda m: (m["msg_type"] == "comm_msg" and m["content"]["comm_id"] == comm_id
                          and m["content"]["data"].get("method") == "echo_update")
        msg, _ = iopub_until(kc, echo, 30)
        echo_ms.append((time.perf_counter() - t0) * 1000)
        if msg["content"]["data"]["state"].get("value") != value:
            raise RuntimeError(f"echo_update carried {msg['content']['data']['state']}, expected value {value}")
        iopub_until(kc, is_idle(sent["header"]["msg_id"]), 30)
        idle_ms.append((time.perf_counter() - t0) * 1000)
    # The kernel holds the value the front end sent.
    kc.execute('console.log(String(slider.value))')
    out, _ = iopub_until(kc, lambda m: m["msg_type"] == "stream", 30)
    if out["content"]["text"].strip() != str(n):
        raise RuntimeError(f"the kernel's slider value is {out['content']['text'].strip()!r} after {n} updates, expected {n}")
    kc.stop_channels()
    return {"firstCellMs": first_cell_ms, "echoMs": echo_ms, "idleMs": idle_ms, "protocol": version}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cli", required=True)
    ap.add_argument("--node", default="node")
    ap.add_argument("--starts", type=int, default=3)
    ap.add_argument("--round-trips", type=int, default=50)
    a = ap.parse_args()
    cwd = tempfile.mkdtemp(prefix="lora-lab-bench-kernel-")
    starts, result = [], {}
    for k in range(a.starts):
        proc, fname, ms = start_kernel(a.node, os.path.abspath(a.cli), cwd)
        starts.append(ms)
        if k == a.starts - 1:
            try:
                result = widget_round_trips(fname, a.round_trips)
            finally:
                stop_kernel(proc, fname)
        else:
            stop_kernel(proc, fname)
    shutil.rmtree(cwd, ignore_errors=True)
    med = statistics.median
    print(json.dumps({"coldStartMs": starts, "coldStartMedianMs": med(starts), **result,
                      "echoMedianMs": med(result["echoMs"]), "idleMedianMs": med(result["idleMs"])}), flush=True)


if __name__ == "__main__":
    main()
