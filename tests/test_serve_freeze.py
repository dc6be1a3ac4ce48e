"""`lambdactl serve` freezes idle warm environments: what a function leaves running stops."""

from __future__ import annotations

import json
import os
import time

from lambdactl.runtime.supervisor import pids_with_marker

from .helpers import ROLE, make_zip

SPINNER = """
import threading
COUNT = 0
def spin():
    global COUNT
    while True:
        COUNT += 1
def handler(event, context):
    if event.get("start"):
        threading.Thread(target=spin, daemon=True).start()
    return COUNT
"""
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rpartition(b")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / TICKS


def test_an_idle_environment_of_the_server_burns_no_cpu(lam) -> None:
    lam.create_function(FunctionName="spinner", Runtime="python3.12", Role=ROLE,
                        Handler="app.handler", Code={"ZipFile": make_zip({"app.py": SPINNER})})
    first = lam.invoke(FunctionName="spinner", Payload=b'{"start": true}')
    assert "FunctionError" not in first, first["Payload"].read()
    pids = pids_with_marker("AWS_LAMBDA_FUNCTION_NAME=spinner")
    assert pids
    # Frozen a moment after the response: wait (bounded) until the CPU time stands still...
    deadline = time.monotonic() + 5
    last = cpu_seconds(pids)
    while time.monotonic() < deadline:
        time.sleep(0.2)
        now = cpu_seconds(pids)
        if now == last:
            break
        last = now
    # ... then it must stay still for a whole second.
    before = cpu_seconds(pids)
    time.sleep(1.0)
    burnt = cpu_seconds(pids) - before
    assert burnt <= 0.03, f"the idle environment used {burnt:.2f} s of CPU in 1 s"
    counted = json.loads(first["Payload"].read())
    again = lam.invoke(FunctionName="spinner", Payload=b"{}")
    assert "FunctionError" not in again
    assert json.loads(again["Payload"].read()) > counted  # thawed: the thread counts on
