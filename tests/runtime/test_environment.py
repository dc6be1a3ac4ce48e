"""The environment's lifecycle: legal moves only, INIT once, deaths reported, sandbox view."""

from __future__ import annotations

import json
import threading
import time

import pytest
from _engine_helpers import wait_gone

from lambdactl.runtime.environment import InvalidStateTransition, State

APP = '''
import os, threading, time
def handler(event, context):
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("background"):
        threading.Thread(target=lambda: (time.sleep(0.05), print("from background")),
                         daemon=True).start()
    print("handled", event.get("n"))
    return event.get("n")

def view(event, context):
    import socket
    return {"uid": os.getuid(), "pids": sorted(int(p) for p in os.listdir("/proc") if p.isdigit()),
            "hostname": socket.gethostname(), "root": sorted(os.listdir("/")),
            "exe": __import__("sys").executable}
'''


def test_lifecycle_and_illegal_moves(make_env):
    env = make_env({"app.py": APP}, start=False)
    assert env.state is State.INIT
    env.start()
    assert env.state is State.READY and env.reusable
    with pytest.raises(InvalidStateTransition):
        env.start()
    first = env.invoke(b'{"n": 1}')
    second = env.invoke(b'{"n": 2}')
    assert first.init_duration_ms is not None and first.init_duration_ms > 0
    assert second.init_duration_ms is None
    assert (first.log, second.log) == (b"handled 1\n", b"handled 2\n")
    assert first.max_memory_mb > 0 and first.duration_ms > 0
    marker = f"AWS_LAMBDA_RUNTIME_API={env.api.address}"
    env.shutdown()
    assert env.state is State.DEAD and not env.reusable
    assert wait_gone(marker) == []
    with pytest.raises(InvalidStateTransition):
        env.invoke(b"{}")
    env.shutdown()  # idempotent


def test_invoke_starts_lazily(make_env):
    env = make_env({"app.py": APP}, start=False)
    out = env.invoke(b'{"n": 7}')
    assert out.payload == b"7" and out.init_duration_ms is not None


def test_one_request_at_a_time(make_env):
    env = make_env({"app.py": APP})
    results = {}
    t = threading.Thread(target=lambda: results.setdefault("a", env.invoke(b'{"sleep": 0.5}')))
    t.start()
    time.sleep(0.15)
    assert env.state is State.INVOKING
    with pytest.raises(InvalidStateTransition):
        env.invoke(b"{}")
    t.join()
    assert results["a"].status == "success" and env.state is State.READY


def test_background_output_goes_to_a_later_invocation(make_env):
    env = make_env({"app.py": APP})
    first = env.invoke(b'{"n": 1, "background": true}')
    assert first.log == b"handled 1\n"
    time.sleep(0.2)
    assert env.invoke(b'{"n": 2}').log == b"from background\nhandled 2\n"


def test_init_timeout(make_env):
    env = make_env({"app.py": "import time\ntime.sleep(30)\ndef handler(e, c):\n    return 1\n"},
                   init_timeout_s=0.5)
    out = env.invoke(b"{}", request_id="it")
    assert out.error_type == "Sandbox.Timedout" and out.status == "error"
    assert "Task timed out after 0.50 seconds" in json.loads(out.payload)["errorMessage"]
    assert env.state is State.DEAD


def test_runtime_crash_during_init(make_env):
    env = make_env({"app.py": "import os\nos._exit(7)\n"})
    out = env.invoke(b"{}", request_id="ci")
    assert json.loads(out.payload) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": "RequestId: ci Error: Runtime exited with error: exit status 7"}


def test_sandbox_view(make_env, bwrap_only):
    env = make_env({"app.py": APP}, handler="app.view")
    doc = json.loads(env.invoke(b"{}").payload)
    assert doc["uid"] == 993
    assert len(doc["pids"]) <= 3  # own pid namespace: bwrap's init, the runtime (and nothing else)
    assert "root" not in doc["root"] and "home" not in doc["root"]
    assert doc["exe"].startswith(("/var/lang/", "/usr/"))


def test_foreign_clients_cannot_take_events(make_env):
    import http.client

    env = make_env({"app.py": APP})
    thief = http.client.HTTPConnection(env.api.address, timeout=5)
    thief.request("GET", "/2018-06-01/runtime/invocation/next")
    with pytest.raises((http.client.RemoteDisconnected, ConnectionError)):
        thief.getresponse()
    out = env.invoke(b'{"n": 3}')  # the event went to the function, not to the thief
    assert out.status == "success" and out.payload == b"3"


def test_clean_exit_mid_invoke_has_no_reason(make_env):
    env = make_env({"app.py": "import sys\ndef handler(e, c):\n    sys.exit(0)\n"})
    out = env.invoke(b"{}", request_id="zero")
    assert out.status == "crash" and json.loads(out.payload) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": "RequestId: zero Error: Runtime exited without providing a reason"}


def test_shutdown_while_launching_leaves_nothing_running(make_env, monkeypatch):
    """A server stopping shuts environments down from another thread; one caught between its
    sandbox's launch and its supervisor must still end dead, its sandbox killed."""
    from lambdactl.runtime import environment

    env = make_env({"app.py": APP}, start=False)
    real_launch = environment.launch

    def launch_then_shutdown(*args, **kwargs):
        launched = real_launch(*args, **kwargs)
        env.shutdown()  # what WarmPool.shutdown does on another thread, at the worst moment
        return launched

    monkeypatch.setattr(environment, "launch", launch_then_shutdown)
    env.start()
    assert env.state is State.DEAD and not env.reusable
    assert env.supervisor is not None and env.supervisor.exited.is_set()
    with pytest.raises(InvalidStateTransition):  # a dead environment takes no request
        env.invoke(b"{}", request_id="late")
