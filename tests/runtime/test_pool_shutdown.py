"""A server stopping leaves no sandbox behind, whatever its environments were doing."""

from __future__ import annotations

import threading
import time

from _engine_helpers import DEFAULT_PYTHON, extract, runtime_or_skip, wait_gone

from lambdactl.runtime.sandbox import SandboxMode
from lambdactl.runtime.spec import SandboxSpec
from lambdactl.server.pool import WarmPool

FALLBACK = SandboxMode("fallback", None, None, "test")  # its processes do not die with a thread
APP = "import time\ndef handler(event, context):\n    time.sleep(event.get('sleep', 0))\n    return 1\n"


def test_shutdown_kills_busy_and_idle_environments(cache, monkeypatch):
    monkeypatch.setenv("LAMBDACTL_SANDBOX", "fallback")
    import lambdactl.runtime.sandbox as sandbox

    sandbox.detect_mode.cache_clear()
    try:
        info = runtime_or_skip(DEFAULT_PYTHON)
        spec = SandboxSpec(task_root=extract(cache, {"app.py": APP}), runtime=DEFAULT_PYTHON,
                           handler="app.handler", function_name="p",
                           function_arn="arn:aws:lambda:us-east-1:123456789012:function:p",
                           timeout_s=30, cache_dir=cache / "sandbox")
        pool = WarmPool(idle_timeout_s=60)
        idle = pool.acquire(("p", "1"), spec, info)
        assert idle.invoke(b"{}").status == "success"
        pool.release(("p", "1"), idle, idle.invoke(b"{}"))
        busy = pool.acquire(("p", "2"), spec, info)
        outcome = {}
        worker = threading.Thread(target=lambda: outcome.update(o=busy.invoke(b'{"sleep": 20}')))
        worker.start()
        time.sleep(0.5)  # the busy one is in its handler now
        started = time.monotonic()
        pool.shutdown()
        worker.join(10)
        assert not worker.is_alive() and time.monotonic() - started < 10
        assert outcome["o"].status == "crash"  # the invocation ends as the runtime's death
        for env in (idle, busy):
            assert not wait_gone(f"AWS_LAMBDA_RUNTIME_API={env.api.address}")
    finally:
        sandbox.detect_mode.cache_clear()
