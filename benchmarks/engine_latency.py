"""Execution engine latency: cold start and warm round trip of one environment, with baselines.

    PYTHONPATH=. python benchmarks/engine_latency.py [--runtime python3.12] [--warm 2000]

Rows (milliseconds):
- `python -c pass` / `python -I -S -c pass` (or `node -e 0`): the interpreter's own start-up
  (the baseline the cold-start target is measured against).
- cold start: `ExecutionEnvironment.start()`, from spawning the sandbox to the bootstrap's first
  `next` (handler imported, INIT over), per sandbox mode available here.
- warm invoke: `ExecutionEnvironment.invoke()` of a trivial handler on one environment, end to
  end (Runtime API hand-over, bootstrap, handler, response, log drain, memory sample).
- Runtime API alone: the same hand-over with an in-process http.client instead of a sandbox.
- freezing: warm invokes through the server's `WarmPool` (acquire, invoke, release) with freezing
  off (the floor), on back to back, and on with every invocation thawing a frozen environment
  (the next request waits until the previous freeze is complete); and `freeze()` / the thaw
  alone. Per freezer: the cgroup freezer where writable, SIGSTOP of the tree otherwise.
Targets: cold start < interpreter start-up + 30 ms; warm invoke < 1 ms; freezing and thawing
< 0.3 ms per invocation.
"""

from __future__ import annotations

import argparse
import http.client
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from lambdactl.runtime.api import Invocation, RuntimeAPI
from lambdactl.runtime.discovery import find_runtime
from lambdactl.runtime.environment import ExecutionEnvironment
from lambdactl.runtime.sandbox import SandboxMode, detect_mode
from lambdactl.runtime.spec import SandboxSpec

HANDLERS = {  # kind -> (file name, source, handler id)
    "python": ("app.py", "def handler(event, context):\n    return event\n", "app.handler"),
    "node": ("index.js", "exports.handler = async (event) => event;\n", "index.handler"),
}


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def timed_runs(argv: list[str], n: int) -> list[float]:
    """Start-up of a bare interpreter, with a clean environment as the sandbox has (a caller's
    NODE_EXTRA_CA_CERTS alone can add tens of ms to node's start)."""
    out = []
    for _ in range(n):
        t = time.perf_counter()
        subprocess.run(argv, check=True, env={"PATH": "/usr/bin:/bin"})
        out.append((time.perf_counter() - t) * 1000)
    return out


def make_spec(root: Path, runtime: str, handler: str, cache: Path) -> SandboxSpec:
    return SandboxSpec(task_root=root, runtime=runtime, handler=handler,
                       function_name="bench", function_arn="arn:aws:lambda:us-east-1:"
                       "000000000000:function:bench", timeout_s=30,
                       cache_dir=cache)  # as the service sets it: the /etc snapshot lives here


def cold_starts(spec: SandboxSpec, info, mode: SandboxMode, n: int) -> list[float]:
    out = []
    for _ in range(n):
        env = ExecutionEnvironment(spec, info, mode)
        t = time.perf_counter()
        env.start()
        out.append((time.perf_counter() - t) * 1000)
        assert env.reusable, "INIT failed"
        env.shutdown()
    return out


def warm(spec: SandboxSpec, info, mode: SandboxMode, n: int) -> list[float]:
    env = ExecutionEnvironment(spec, info, mode)
    env.start()
    try:
        for _ in range(200):  # warm up caches and the JIT-less interpreter paths
            env.invoke(b"{}")
        out = []
        for _ in range(n):
            t = time.perf_counter()
            o = env.invoke(b'{"k": 1}')
            out.append((time.perf_counter() - t) * 1000)
            assert o.status == "success"
        return out
    finally:
        env.shutdown()


def pool_loop(spec: SandboxSpec, info, n: int, freeze: bool, thaw_each: bool) -> list[float]:
    """Warm invokes through a WarmPool; `thaw_each`: wait (untimed) until the environment is
    frozen before each request, so each one pays a thaw."""
    from lambdactl.server.pool import WarmPool

    pool = WarmPool(idle_timeout_s=600, freeze=freeze)
    key = ("bench", "1")
    try:
        out = []
        env = None
        for i in range(n + 200):
            if thaw_each and env is not None:
                deadline = time.monotonic() + 5
                while not env.frozen:
                    assert time.monotonic() < deadline, "never frozen"
                    time.sleep(0.0002)
            t = time.perf_counter()
            env = pool.acquire(key, spec, info)
            o = env.invoke(b'{"k": 1}')
            pool.release(key, env, o)
            took = (time.perf_counter() - t) * 1000
            assert o.status == "success", o
            if i >= 200:
                out.append(took)
        return out
    finally:
        pool.shutdown()


def freeze_thaw(spec: SandboxSpec, info, n: int) -> tuple[list[float], list[float], str]:
    """freeze() and the thaw that starts the next invocation, each alone."""
    env = ExecutionEnvironment(spec, info)
    env.start()
    freezes, thaws = [], []
    try:
        for _ in range(n):
            assert env.invoke(b"{}").status == "success"
            t = time.perf_counter()
            assert env.freeze()
            freezes.append((time.perf_counter() - t) * 1000)
            how = "cgroup freezer" if env.supervisor.frozen == "cgroup" else "SIGSTOP"
            t = time.perf_counter()
            env._thaw()
            thaws.append((time.perf_counter() - t) * 1000)
        return freezes, thaws, how
    finally:
        env.shutdown()


def freezing_rows(spec: SandboxSpec, info, n: int) -> list[tuple[str, list[float]]]:
    rows = []
    for freezer in ("cgroup", "signals"):
        saved = os.environ.get("LAMBDACTL_NO_CGROUP")
        if freezer == "signals":
            os.environ["LAMBDACTL_NO_CGROUP"] = "1"
        try:
            freezes, thaws, how = freeze_thaw(spec, info, min(n, 500))
            if freezer == "cgroup" and how != "cgroup freezer":
                continue  # no writable freezer here: the signals rows say it all
            rows.append((f"pool, freezing off [{how}]", pool_loop(spec, info, n, False, False)))
            rows.append((f"pool, freezing on [{how}]", pool_loop(spec, info, n, True, False)))
            rows.append((f"pool, thaw each [{how}]", pool_loop(spec, info, n, True, True)))
            rows.append((f"freeze() alone [{how}]", freezes))
            rows.append((f"thaw alone [{how}]", thaws))
        finally:
            if saved is None:
                os.environ.pop("LAMBDACTL_NO_CGROUP", None)
            else:
                os.environ["LAMBDACTL_NO_CGROUP"] = saved
    return rows


def api_only(n: int) -> list[float]:
    api = RuntimeAPI()
    c = http.client.HTTPConnection(api.address)
    out = []
    try:
        for i in range(n + 200):
            inv = Invocation(b"{}", 0, "arn")
            t = time.perf_counter()
            api.post(inv)
            c.request("GET", "/2018-06-01/runtime/invocation/next")
            c.getresponse().read()
            c.request("POST", f"/2018-06-01/runtime/invocation/{inv.request_id}/response", b"{}")
            c.getresponse().read()
            inv.done.wait()
            if i >= 200:
                out.append((time.perf_counter() - t) * 1000)
    finally:
        api.close()
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runtime", default="python3.12")
    ap.add_argument("--cold", type=int, default=20)
    ap.add_argument("--warm", type=int, default=2000)
    args = ap.parse_args()
    info = find_runtime(args.runtime)
    exe = str(info.executable)
    rows: list[tuple[str, list[float]]] = []
    if info.kind == "python":
        rows.append((f"{args.runtime} -c pass", timed_runs([exe, "-c", "pass"], args.cold)))
        baseline = "-I -S -c pass"
        rows.append((f"{args.runtime} {baseline}", timed_runs([exe, "-I", "-S", "-c", "pass"],
                                                              args.cold)))
    else:
        baseline = "-e 0"
        rows.append((f"{args.runtime} {baseline}", timed_runs([exe, "-e", "0"], args.cold)))
    modes = [SandboxMode("fallback", None, None, "benchmark")]
    detected = detect_mode()
    if detected.name == "bubblewrap":
        modes.insert(0, detected)
    with tempfile.TemporaryDirectory() as d:
        root = Path(d) / "task"
        root.mkdir()
        name, source, handler = HANDLERS[info.kind]
        (root / name).write_text(source)
        spec = make_spec(root, args.runtime, handler, Path(d) / "cache")
        for mode in modes:
            rows.append((f"cold start ({mode.name})", cold_starts(spec, info, mode, args.cold)))
        for mode in modes:
            rows.append((f"warm invoke ({mode.name})", warm(spec, info, mode, args.warm)))
        rows += freezing_rows(spec, info, args.warm)
    rows.append(("Runtime API alone (in-process client)", api_only(args.warm)))

    print(f"engine latency, {args.runtime} = {exe} ({info.version}), "
          f"python {sys.version.split()[0]} caller\n")
    print(f"{'measurement':<42}{'n':>6}{'p50 ms':>10}{'p99 ms':>10}{'mean ms':>10}")
    for name, xs in rows:
        print(f"{name:<42}{len(xs):>6}{statistics.median(xs):>10.3f}{pct(xs, 99):>10.3f}"
              f"{statistics.fmean(xs):>10.3f}")
    base = statistics.median(next(xs for name, xs in rows if name.endswith(baseline)))
    print()
    for name, xs in rows:
        if name.startswith("cold start"):
            over = statistics.median(xs) - base
            print(f"{name}: {over:.1f} ms over `{baseline}` (target < 30 ms)")
        if name.startswith("warm invoke"):
            print(f"{name}: p50 {statistics.median(xs):.3f} ms (target < 1 ms)")
    for name, xs in rows:
        if name.startswith("pool, freezing off"):
            floor = statistics.median(xs)
            how = name.split("[")[1]
            for label in ("freezing on", "thaw each"):
                other = statistics.median(next(v for k, v in rows if k == f"pool, {label} [{how}"))
                print(f"pool, {label} [{how}: {other / floor:.2f}x freezing off, "
                      f"{other - floor:+.3f} ms per invocation (target < 0.3 ms)")


if __name__ == "__main__":
    main()
