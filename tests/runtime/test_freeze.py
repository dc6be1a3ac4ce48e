"""Warm environments are frozen between invocations and thawed for the next one."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest
from _engine_helpers import DEFAULT_PYTHON, extract, runtime_or_skip, wait_gone

from lambdactl.runtime.spec import SandboxSpec
from lambdactl.server.pool import WarmPool

SPIN_APP = '''
import os, threading, time
count = 0

def spin():
    global count
    while True:
        count += 1

def handler(event, context):
    if event.get("start"):
        threading.Thread(target=spin, daemon=True).start()
    if event.get("child"):  # a second process, spinning as well
        import subprocess, sys
        subprocess.Popen([sys.executable, "-c", "while True: pass"])
    if event.get("sleep"):
        time.sleep(event["sleep"])
    return count

def slow(event, context):
    time.sleep(event["sleep"])
    return "slept"
'''
TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat", "rb") as f:
                fields = f.read().rpartition(b")")[2].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])  # utime + stime
    return total / TICKS


def wait_frozen(env, timeout_s: float = 10.0) -> None:
    deadline = time.monotonic() + timeout_s
    while not env.frozen:
        assert time.monotonic() < deadline, "the idle environment was never frozen"
        time.sleep(0.01)
    cg = env.supervisor.launched.cgroup
    if env.supervisor.frozen == "cgroup":
        while not cg.frozen():  # the kernel completes a freeze asynchronously
            assert time.monotonic() < deadline
            time.sleep(0.01)
    time.sleep(0.1)  # a stopped process's last tick is accounted


@pytest.fixture
def pool_in(cache, monkeypatch):
    import lambdactl.runtime.sandbox as sandbox

    pools: list[WarmPool] = []

    def make(sandbox_mode: str, cgroup: bool) -> WarmPool:
        if sandbox_mode == "fallback":
            monkeypatch.setenv("LAMBDACTL_SANDBOX", "fallback")
        if not cgroup:
            monkeypatch.setenv("LAMBDACTL_NO_CGROUP", "1")
        sandbox.detect_mode.cache_clear()
        pool = WarmPool(idle_timeout_s=60, freeze=True)
        pools.append(pool)
        return pool

    yield make
    for pool in pools:
        pool.shutdown()
    sandbox.detect_mode.cache_clear()


def spec_for(cache, name: str) -> SandboxSpec:
    return SandboxSpec(task_root=extract(cache, {"app.py": SPIN_APP}), runtime=DEFAULT_PYTHON,
                       handler="app.handler", function_name=name, timeout_s=10,
                       function_arn=f"arn:aws:lambda:us-east-1:123456789012:function:{name}",
                       cache_dir=cache / "sandbox")


@pytest.mark.parametrize("sandbox_mode,cgroup", [("detected", True), ("detected", False),
                                                 ("fallback", True), ("fallback", False)],
                         ids=["detected", "detected-signals", "fallback", "fallback-signals"])
def test_a_spinning_thread_burns_no_cpu_while_idle(cache, pool_in, sandbox_mode, cgroup):
    pool = pool_in(sandbox_mode, cgroup)
    info = runtime_or_skip(DEFAULT_PYTHON)
    key = ("spin", "1")
    env = pool.acquire(key, spec_for(cache, "spin"), info)
    out = env.invoke(json.dumps({"start": True, "child": True}).encode())
    assert out.status == "success", out
    pool.release(key, env, out)
    wait_frozen(env)
    if cgroup and env.supervisor.launched.cgroup is not None and \
            env.supervisor.launched.cgroup.has_freezer:
        assert env.supervisor.frozen == "cgroup"
    pids = env.supervisor.tree()
    assert len(pids) >= 2  # the runtime and its spinning child at least
    before = cpu_seconds(pids)
    time.sleep(1.0)
    burnt = cpu_seconds(pids) - before
    assert burnt <= 0.03, f"the idle, frozen environment used {burnt:.2f} s of CPU in 1 s"
    # Thawed for the next invocation: the thread resumes and counts on.
    again = pool.acquire(key, spec_for(cache, "spin"), info)
    assert again is env
    first = json.loads(out.payload)
    later = env.invoke(json.dumps({"sleep": 0.2}).encode())
    assert later.status == "success" and json.loads(later.payload) > first, later
    assert not env.frozen
    assert cpu_seconds(env.supervisor.tree()) > before  # running again
    pool.release(key, env, later)
    wait_frozen(env)
    marker = f"AWS_LAMBDA_RUNTIME_API={env.api.address}"
    pool.shutdown()  # a frozen environment dies with the pool, every process of it
    assert not wait_gone(marker)
    cg = env.supervisor.launched.cgroup
    assert cg is None or not any(p.exists() for p in cg.paths.values())


def test_only_an_idle_environment_is_frozen(make_env):
    env = make_env({"app.py": SPIN_APP}, handler="app.slow", start=False)
    attempts: list[bool] = []
    started = threading.Event()

    def try_while_initialising() -> None:
        started.set()
        while env.state.value == "Init":
            attempts.append(env.freeze(wait_s=0))
            time.sleep(0.001)

    checker = threading.Thread(target=try_while_initialising)
    checker.start()
    started.wait()
    env.start()  # on this thread: the sandbox lives as long as the thread that started it
    checker.join()
    assert attempts and not any(attempts)
    results = {}
    worker = threading.Thread(target=lambda: results.update(
        out=env.invoke(json.dumps({"sleep": 0.6}).encode())))
    worker.start()
    deadline = time.monotonic() + 10
    while env.state.value != "Invoking" and time.monotonic() < deadline:
        time.sleep(0.005)
    assert not env.freeze(wait_s=0.1)  # invoking
    worker.join()
    assert results["out"].status == "success"
    assert env.freeze() and env.frozen and not env.freeze()  # idle: frozen, once
    out = env.invoke(json.dumps({"sleep": 0}).encode())  # thawed by the invocation itself
    assert out.status == "success" and not env.frozen, out


def test_a_process_that_stopped_itself_stays_stopped(make_env, monkeypatch):
    monkeypatch.setenv("LAMBDACTL_NO_CGROUP", "1")  # the SIGSTOP way
    app = ('import os, signal, subprocess, sys\nchild = None\n'
           'def handler(event, context):\n'
           '    global child\n'
           '    if child is None:\n'
           '        child = subprocess.Popen([sys.executable, "-c", '
           '"import os, signal; os.kill(os.getpid(), signal.SIGSTOP)"])\n'
           '        import time; time.sleep(0.3)\n'
           '    return child.poll()\n')
    env = make_env({"app.py": app})
    assert env.invoke(b"{}").payload == b"null"
    assert env.freeze()
    time.sleep(0.1)
    out = env.invoke(b"{}")
    assert out.payload == b"null"  # still stopped, not continued by the thaw


def test_a_node_environment_freezes_and_thaws(make_env):
    app = ("let ticks = 0;\nsetInterval(() => { ticks += 1; }, 5);\n"
           "exports.handler = async (event) => {\n"
           "  if (event.wait) await new Promise((r) => setTimeout(r, event.wait));\n"
           "  return ticks;\n};\n")
    env = make_env({"index.js": app}, runtime="nodejs20.x", handler="index.handler")
    first = env.invoke(b"{}")
    assert first.status == "success", first
    assert env.freeze()
    time.sleep(0.3)  # frozen: its timer does not fire (running, it would fire ~60 times)
    thawed = env.invoke(b"{}")
    assert thawed.status == "success", thawed
    assert json.loads(thawed.payload) - json.loads(first.payload) <= 5, (first, thawed)
    out = env.invoke(b'{"wait": 100}')  # and runs again once thawed
    assert out.status == "success" and json.loads(out.payload) > json.loads(thawed.payload), out


EARLY_ANSWER_APP = '''
import os, time, urllib.request

def handler(event, context):
    # Answer on the Runtime API itself, then compute on: the caller has its answer, the runtime
    # is not back in `next`.
    url = (f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime/invocation/"
           f"{context.aws_request_id}/response")
    urllib.request.urlopen(urllib.request.Request(url, data=b'"early"', method="POST")).read()
    t0 = time.time()
    while time.time() - t0 < 60:
        pass
'''


@pytest.mark.parametrize("freeze", [True, False], ids=["freezing", "no-freeze"])
def test_an_early_answer_does_not_outlive_the_timeout(cache, freeze):
    info = runtime_or_skip(DEFAULT_PYTHON)
    pool = WarmPool(idle_timeout_s=60, freeze=freeze)
    try:
        key = ("early", "1")
        spec = SandboxSpec(task_root=extract(cache, {"app.py": EARLY_ANSWER_APP}), runtime=DEFAULT_PYTHON,
                           handler="app.handler", function_name="early", timeout_s=2,
                           function_arn="arn:aws:lambda:us-east-1:123456789012:function:early",
                           cache_dir=cache / "sandbox")
        env = pool.acquire(key, spec, info)
        out = env.invoke(b"{}")
        assert out.status == "success" and out.payload == b'"early"', out
        pool.release(key, env, out)
        marker = f"AWS_LAMBDA_RUNTIME_API={env.api.address}"
        # Still computing past its 2 s Timeout: killed by the pool's sweep (every second).
        assert not wait_gone(marker, timeout_s=12), "the environment outlived its invocation's Timeout"
        assert not env.reusable and not env.frozen
        again = pool.acquire(key, spec, info)
        assert again is not env
        later = again.invoke(b"{}")
        assert later.status == "success", later
        pool.release(key, again, later)
    finally:
        pool.shutdown()
