"""Warm execution environments, kept per function version and reused (INIT once).

An environment is idle-reusable only for the exact code and configuration it was built from; the
first invocation after a code or configuration change retires the idle environments of the old
one. Idle environments are shut down after `idle_timeout_s`; provisioned ones are kept.

Idle environments are frozen, as Lambda freezes them between invocations (what a function left
running uses no CPU until its next invocation thaws it). The freeze happens on a thread of its
own once the environment has stayed idle for FREEZE_AFTER_S, off the path of the response; the
thaw is the first thing the next invocation does. The short wait spares back-to-back invocations
a freeze and a thaw each (~0.3 ms of CPU on the server's cores: a quarter of its throughput),
while an idle environment still stops within milliseconds. `LAMBDACTL_NO_FREEZE=1` turns
freezing off.

A runtime that answers and computes on is frozen only once it is back in `next`; if it is not
back by the invocation's deadline, the sweep (every second) shuts its environment down.
"""

from __future__ import annotations

import os
import queue
import threading
import time
from collections.abc import Callable
from concurrent.futures import CancelledError, ThreadPoolExecutor
from typing import TYPE_CHECKING, Any

FREEZE_AFTER_S = 0.02  # how long a released environment stays idle before it is frozen

if TYPE_CHECKING:
    from ..runtime.environment import ExecutionEnvironment, InvokeOutcome
    from ..runtime.spec import SandboxSpec

Key = tuple[Any, ...]


class WarmPool:
    """The server's EnvironmentProvider: reuse idle environments, start new ones when none is idle."""

    def __init__(self, idle_timeout_s: float = 300.0, freeze: bool | None = None) -> None:
        self.idle_timeout_s = idle_timeout_s
        self.freeze = (os.environ.get("LAMBDACTL_NO_FREEZE") != "1") if freeze is None else freeze
        self._lock = threading.Lock()
        self._idle: dict[Key, list[tuple[ExecutionEnvironment, float]]] = {}
        self._provisioned: dict[Key, list[ExecutionEnvironment]] = {}
        self._busy: set[int] = set()
        self._all: dict[int, ExecutionEnvironment] = {}
        self._closed = False
        self.cold_starts = 0
        self.warm_starts = 0
        # Sandboxes die with the thread that started them (bubblewrap's --die-with-parent is a
        # per-thread parent-death signal), so they are started on these long-lived threads, never
        # on a connection's thread, which ends when its client hangs up.
        self._spawner = ThreadPoolExecutor(max_workers=8, thread_name_prefix="env-spawn")
        self._stop = threading.Event()
        self._reaper = threading.Thread(target=self._reap_loop, name="pool-reaper", daemon=True)
        self._reaper.start()
        self._to_freeze: queue.SimpleQueue[ExecutionEnvironment | None] = queue.SimpleQueue()
        self._released_at: dict[int, float] = {}  # id(env) -> its last release, while a freeze is pending
        if self.freeze:
            threading.Thread(target=self._freeze_loop, name="pool-freezer", daemon=True).start()

    # -- EnvironmentProvider ------------------------------------------------------------------

    def acquire(self, key: Key, make_spec: Callable[[], SandboxSpec] | SandboxSpec, runtime: Any) -> ExecutionEnvironment:
        retired: list[ExecutionEnvironment] = []
        with self._lock:
            if self._closed:
                from ..errors import LambdaError

                raise LambdaError("ServiceException", "The server is shutting down.", 500)
            # Provisioned environments serve first, then on-demand idle ones.
            for source in (self._provisioned.get(key, []), [e for e, _ in self._idle.get(key, [])]):
                for env in source:
                    if id(env) not in self._busy and env.reusable:
                        self._busy.add(id(env))
                        self._take_idle(key, env)
                        self.warm_starts += 1
                        return env
            # Idle environments of an older code/configuration of this version are retired now.
            for other in [k for k in self._idle if k[:2] == key[:2] and k != key]:
                retired.extend(e for e, _ in self._idle.pop(other))
        for env in retired:
            self._forget(env)
        spec = make_spec() if callable(make_spec) else make_spec
        from ..runtime.environment import ExecutionEnvironment

        env = ExecutionEnvironment(spec, runtime)
        with self._lock:
            self._all[id(env)] = env
            self._busy.add(id(env))
            self.cold_starts += 1
        try:
            self._spawner.submit(env.start).result()
        except BaseException:
            self._forget(env)
            raise
        return env

    def release(self, key: Key, env: ExecutionEnvironment, outcome: InvokeOutcome) -> None:
        keep = outcome.environment_reusable and env.reusable
        with self._lock:
            self._busy.discard(id(env))
            provisioned = any(env is e for e in self._provisioned.get(key, []))
            if keep and not self._closed:
                if not provisioned:
                    self._idle.setdefault(key, []).append((env, time.monotonic()))
                if self.freeze:
                    pending = id(env) in self._released_at
                    self._released_at[id(env)] = time.monotonic()
                    if not pending:  # one queued freeze per environment, however busy it is
                        self._to_freeze.put(env)
                return
            if provisioned:
                self._provisioned[key] = [e for e in self._provisioned[key] if e is not env]
        self._forget(env)

    # -- provisioned concurrency --------------------------------------------------------------

    def provision(self, key: Key, make_spec: Callable[[], SandboxSpec], runtime: Any, count: int) -> int:
        """Start `count` environments with AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency
        and INIT them now; returns how many are ready."""
        from ..runtime.environment import ExecutionEnvironment, InvalidStateTransition

        ready = 0
        for _ in range(count):
            spec = make_spec().replace(initialization_type="provisioned-concurrency")
            env = ExecutionEnvironment(spec, runtime)
            with self._lock:  # known before it starts, so a shutdown meanwhile reaches it
                if self._closed:
                    break
                self._all[id(env)] = env
                self._provisioned.setdefault(key, []).append(env)
            try:
                self._spawner.submit(env.start).result()
            except (InvalidStateTransition, RuntimeError, CancelledError):  # shut down meanwhile
                break
            ready += env.reusable
            if self.freeze and env.reusable:
                self._to_freeze.put(env)
        return ready

    def unprovision(self, prefix: Key) -> None:
        with self._lock:
            gone = [e for k in list(self._provisioned) if k[: len(prefix)] == prefix for e in self._provisioned.pop(k)]
        for env in gone:
            self._forget(env)

    def retire(self, function: str, *, provisioned: bool = False) -> int:
        """Shut down the idle environments of a function (and its provisioned ones if asked):
        after delete-function, nothing should keep its sandboxes alive until the idle timeout."""
        with self._lock:
            gone = [e for k in list(self._idle) if k[0] == function for e, _ in self._idle.pop(k)]
            if provisioned:
                gone += [e for k in list(self._provisioned) if k[0] == function for e in self._provisioned.pop(k)]
        for env in gone:
            self._forget(env)
        return len(gone)

    # -- housekeeping -----------------------------------------------------------------------------

    def _take_idle(self, key: Key, env: ExecutionEnvironment) -> None:
        entries = self._idle.get(key)
        if entries:
            self._idle[key] = [(e, t) for e, t in entries if e is not env]

    def _forget(self, env: ExecutionEnvironment) -> None:
        with self._lock:
            self._all.pop(id(env), None)
            self._busy.discard(id(env))
        try:
            env.shutdown()
        except Exception:  # noqa: BLE001 - a dying environment must not take the server down
            pass

    def _reap_loop(self) -> None:
        while not self._stop.wait(1.0):
            self.reap()
            if self.freeze:
                # Idle ones not frozen yet (a runtime slow to come back to `next`): try again.
                with self._lock:
                    idle = [e for v in self._idle.values() for e, _ in v]
                    idle += [e for v in self._provisioned.values() for e in v
                             if id(e) not in self._busy]
                for env in idle:
                    if not env.frozen and env.reusable:
                        self._to_freeze.put(env)

    def _freeze_loop(self) -> None:
        while True:
            env = self._to_freeze.get()
            if env is None:
                return
            while True:  # until it has stayed idle FREEZE_AFTER_S since its last release
                with self._lock:
                    due = self._released_at.get(id(env), 0.0) + FREEZE_AFTER_S
                wait = due - time.monotonic()
                if wait <= 0:
                    break
                if self._stop.wait(wait):
                    return
            with self._lock:
                self._released_at.pop(id(env), None)
                wanted = id(env) in self._all and id(env) not in self._busy and not self._closed
            if wanted:
                try:
                    env.freeze()
                except Exception:  # noqa: BLE001 - it stays unfrozen: a cost, not a failure
                    pass

    def reap(self, now: float | None = None) -> int:
        now = time.monotonic() if now is None else now
        expired: list[ExecutionEnvironment] = []
        with self._lock:
            for key in list(self._idle):
                keep = []
                for env, since in self._idle[key]:
                    if now - since >= self.idle_timeout_s or not env.reusable:
                        expired.append(env)
                    else:
                        keep.append((env, since))
                if keep:
                    self._idle[key] = keep
                else:
                    del self._idle[key]
            # One that answered and computes on past its Timeout (not back in `next`) is killed,
            # provisioned or not, as Lambda ends an invocation's environment at its timeout.
            for key, envs in list(self._provisioned.items()):
                overdue = [e for e in envs if id(e) not in self._busy and e.overdue]
                if overdue:
                    self._provisioned[key] = [e for e in envs if e not in overdue]
                    expired += overdue
        for env in expired:
            self._forget(env)
        return len(expired)

    def stats(self) -> dict[str, int]:
        with self._lock:
            return {
                "environments": len(self._all),
                "idle": sum(len(v) for v in self._idle.values()),
                "provisioned": sum(len(v) for v in self._provisioned.values()),
                "busy": len(self._busy),
                "cold_starts": self.cold_starts,
                "warm_starts": self.warm_starts,
            }

    def shutdown(self) -> None:
        """SHUTDOWN every environment; idempotent."""
        self._stop.set()
        self._to_freeze.put(None)
        with self._lock:
            self._closed = True
            envs = list(self._all.values())
            self._idle.clear()
            self._provisioned.clear()
        for env in envs:
            try:
                env.terminate()  # busy ones too: nothing may outlive the server
            except Exception:  # noqa: BLE001
                pass
        with self._lock:
            self._all.clear()
        # A start still running on a spawner ends promptly now (its environment is dead: it
        # kills what it launched, or launches nothing); wait for it, so no sandbox is left behind
        # (the fallback mode's processes do not die with their starting thread).
        self._spawner.shutdown(wait=True, cancel_futures=True)
