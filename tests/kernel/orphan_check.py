"""Starts the lora-lab kernel from a middle process, SIGKILLs that process (so jupyter_client can
not shut the kernel down) and reports whether the kernel exits by itself. One JSON line on stdout.
"""
import json
import os
import signal
import subprocess
import sys
import time

KERNEL = os.environ.get("LORA_LAB_KERNEL", "lora-lab")
MIDDLE = r"""
import sys, time
from jupyter_client.manager import KernelManager
km = KernelManager(kernel_name=sys.argv[1])
km.start_kernel()
kc = km.client(); kc.start_channels(); kc.wait_for_ready(timeout=120)
print(km.provisioner.process.pid, flush=True)
time.sleep(600)
"""


def alive(pid):
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    try:
        with open(f"/proc/{pid}/status") as f:
            return not any(line.startswith("State:") and "Z" in line.split()[1] for line in f)
    except OSError:
        return False


middle = subprocess.Popen([sys.executable, "-c", MIDDLE, KERNEL], stdout=subprocess.PIPE, text=True)
pid = int(middle.stdout.readline().strip())
assert alive(pid), "kernel did not start"
middle.send_signal(signal.SIGKILL)
middle.wait()
deadline = time.time() + 30
while alive(pid) and time.time() < deadline:
    time.sleep(0.2)
gone = not alive(pid)
if not gone:
    os.kill(pid, signal.SIGKILL)
print(json.dumps({"kernelPid": pid, "gone": gone}))
