"""One execution environment: INIT once, then invocations one at a time, until it dies.

Owns the lifecycle state machine (Init -> Ready -> Invoking -> Ready | Dead; an illegal move
raises, a dead environment never takes another request), the deadline, and turning how an
invocation ended (response, error, too large, timeout, crash, out of memory, init failure) into
an `InvokeOutcome` with Lambda's payloads and texts. Must not know about the registry, qualifiers,
admission or the faces: the service layer builds the `SandboxSpec` and keeps the warm pool.
"""

from __future__ import annotations

import _socket
import enum
import json
import math
import threading
import time
from collections.abc import Mapping
from pathlib import Path

from lambdactl._record import dataclass
from lambdactl.errors import LambdaError
from lambdactl.limits import INIT_TIMEOUT_S, MAX_RUNTIME_RESPONSE_BYTES
from lambdactl.models import new_uuid
from lambdactl.runtime import logs
from lambdactl.runtime.discovery import RuntimeInfo, find_runtime
from lambdactl.runtime.sandbox import InvalidEntrypoint, SandboxMode, launch
from lambdactl.runtime.spec import SandboxSpec

TYPE_CHECKING = False
if TYPE_CHECKING:
    from lambdactl.runtime.api import Invocation, RuntimeAPI
    from lambdactl.runtime.supervisor import Supervisor

MIB = 1024 * 1024


def _loopback_listener() -> _socket.socket:
    """The Runtime API's listening socket, made before the sandbox starts (the runtime needs
    its port), from the C module: `socket` itself loads while the sandbox boots."""
    sock = _socket.socket(_socket.AF_INET, _socket.SOCK_STREAM)
    try:
        sock.bind(("127.0.0.1", 0))
        sock.listen(16)
    except OSError:
        sock.close()
        raise
    return sock


class State(enum.Enum):
    INIT = "Init"
    READY = "Ready"
    INVOKING = "Invoking"
    DEAD = "Dead"


ALLOWED = {
    State.INIT: {State.READY, State.DEAD},
    State.READY: {State.INVOKING, State.DEAD},
    State.INVOKING: {State.READY, State.DEAD},
    State.DEAD: set(),
}


class InvalidStateTransition(LambdaError):
    """An operation the environment's current state does not allow (a bug in the caller)."""

    def __init__(self, src: State, dst: State) -> None:
        super().__init__("ServiceException",
                         f"Execution environment cannot move from {src.value} to {dst.value}", 500)
        self.src, self.dst = src, dst


@dataclass
class InvokeOutcome:
    """How one invocation ended, in the terms the Invoke API and the REPORT line need."""

    request_id: str
    payload: bytes
    function_error: str | None  # 'Unhandled' when the function (or its runtime) failed
    error_type: str | None
    log: bytes  # the function's own output for this invocation (bounded), no START/END/REPORT
    duration_ms: float
    init_duration_ms: float | None
    max_memory_mb: int
    status: str  # 'success' | 'error' | 'timeout' | 'crash' | 'oom'
    environment_reusable: bool

    def report_line(self, memory_mb: int) -> str:
        return logs.report_line(self.request_id, self.duration_ms, memory_mb, self.max_memory_mb,
                                self.init_duration_ms, self.status, self.error_type)


@dataclass
class _InitFailure:
    error_type: str
    payload: bytes | None  # the runtime's own /init/error body, else built per request id
    message: str = ""

    def body(self, request_id: str) -> bytes:
        if self.payload is not None:
            return self.payload
        return _error_json(self.error_type, f"RequestId: {request_id} Error: {self.message}")


def _error_json(error_type: str, message: str) -> bytes:
    return json.dumps({"errorType": error_type, "errorMessage": message}).encode()


def _error_type_of(body: bytes, header: str | None) -> str | None:
    if header:
        return header
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):  # a function may answer anything, nested any depth
        return None
    et = doc.get("errorType") if isinstance(doc, dict) else None
    return et if isinstance(et, str) else None


def runtime_for(spec: SandboxSpec, overrides: Mapping[str, str] | None = None,
                cache_file: Path | None = None) -> RuntimeInfo:
    """The RuntimeInfo to start `spec` with: `spec.interpreter` when set (still verified to be
    the runtime's version), else discovery with config.toml's overrides."""
    ov = dict(overrides or {})
    if spec.interpreter is not None:
        ov[spec.runtime] = str(spec.interpreter)
    return find_runtime(spec.runtime, ov, cache_file)


class ExecutionEnvironment:
    """A sandboxed runtime serving invocations of one function version, one at a time."""

    def __init__(self, spec: SandboxSpec, runtime_info: RuntimeInfo,
                 mode: SandboxMode | None = None, init_timeout_s: float = INIT_TIMEOUT_S) -> None:
        self.spec = spec
        self.init_timeout_s = init_timeout_s
        self.runtime_info = runtime_info
        self.mode = mode
        self._state = State.INIT
        self._state_lock = threading.Lock()
        self._wake = threading.Event()
        self._supervised = threading.Event()
        self._current: Invocation | None = None
        self.api: RuntimeAPI | None = None
        self.supervisor: Supervisor | None = None
        self.init_duration_ms: float | None = None
        self._init_failure: _InitFailure | None = None
        self._started = False
        self._cold = True
        self.invocations = 0
        self._frozen = False
        self._freeze_lock = threading.Lock()  # a freeze and the next invocation's thaw
        # The last invocation's deadline (perf_counter). A runtime may answer and compute on:
        # as on Lambda, its Timeout runs until it is back in `next` (see `overdue`).
        self._deadline = math.inf

    # -- state ------------------------------------------------------------------------------

    @property
    def state(self) -> State:
        return self._state

    def _move(self, dst: State) -> None:
        with self._state_lock:
            if dst not in ALLOWED[self._state]:
                raise InvalidStateTransition(self._state, dst)
            self._state = dst

    @property
    def reusable(self) -> bool:
        """Whether the next invoke can use this environment (Ready, its runtime alive and not
        `overdue`)."""
        return (self._state is State.READY and self.supervisor is not None
                and not self.supervisor.exited.is_set() and not self.overdue)

    @property
    def overdue(self) -> bool:
        """Answered, yet its runtime is not back in `next` by the invocation's deadline: it is
        still computing, unfrozen, past its Timeout. Its owner must shut it down (the pool
        does on its next sweep); no further invocation may use it."""
        api = self.api
        return (api is not None and not api.parked.is_set()
                and time.perf_counter() >= self._deadline)

    @property
    def frozen(self) -> bool:
        return self._frozen

    def freeze(self, wait_s: float = 0.5) -> bool:
        """Freeze an idle environment, as Lambda does between invocations: only Ready, and only
        once its runtime is back in `next` (its last answer delivered). Waits up to `wait_s` for
        that; False when it is not frozen (not idle, dead, already frozen)."""
        api, sup = self.api, self.supervisor
        if api is None or sup is None or self._state is not State.READY or self._frozen:
            return False
        if not api.parked.wait(wait_s):
            return False
        with self._freeze_lock:
            if (self._frozen or self._state is not State.READY or not api.parked.is_set()
                    or sup.exited.is_set()):
                return False
            sup.freeze()
            self._frozen = True
        return True

    def _thaw(self) -> None:
        # Always under the lock: a freeze that saw Ready just before this invocation began
        # completes first, and is undone here.
        with self._freeze_lock:
            if self._frozen:
                assert self.supervisor is not None
                self.supervisor.thaw()
                self._frozen = False

    # -- lifecycle --------------------------------------------------------------------------

    def _authorize(self, peer_port: int) -> bool:
        # The runtime may connect before launch() has returned here: wait for the supervisor.
        self._supervised.wait(INIT_TIMEOUT_S)
        sup, api = self.supervisor, self.api
        return sup is not None and api is not None and sup.owns_connection(peer_port, api.port)

    def _on_exit(self) -> None:
        cur = self._current
        if cur is not None:
            cur.complete("exit")
        with self._state_lock:
            # The runtime died between invocations (e.g. a client that exits after a refused
            # response): the environment is dead now, not at the next request's expense.
            if self._state is State.READY:
                self._state = State.DEAD
        self._wake.set()

    def start(self) -> None:
        """INIT: start the sandboxed runtime and wait for its first `next` (or its failure).

        An init failure does not raise: the first invoke returns it, as Lambda does.
        """
        if self._started or self._state is State.DEAD:  # shut down before it ever started
            raise InvalidStateTransition(self._state, State.INIT)
        self._started = True
        t0 = time.perf_counter()
        listener = _loopback_listener()
        address = f"127.0.0.1:{listener.getsockname()[1]}"
        try:
            launched = launch(self.spec, self.runtime_info, address, self.mode)
        except InvalidEntrypoint as e:
            listener.close()
            self._init_failure = _InitFailure("Runtime.InvalidEntrypoint", None, str(e))
            return
        except BaseException:
            listener.close()
            raise
        # The runtime is starting (tens of milliseconds): only now load what serves and
        # watches it. Its first connection waits in the listener's backlog meanwhile.
        try:
            from lambdactl.runtime.api import RuntimeAPI
            from lambdactl.runtime.supervisor import Supervisor

            self.supervisor = Supervisor(launched, self.spec.memory_mb * MIB, on_exit=self._on_exit)
        except BaseException:
            listener.close()
            launched.proc.kill()
            launched.proc.wait()
            launched.cleanup_files()
            raise
        self.api = RuntimeAPI(MAX_RUNTIME_RESPONSE_BYTES, authorize=self._authorize,
                              listener=listener)
        self.api.on_event = self._wake.set
        self._supervised.set()
        if self.state is State.DEAD:  # the property: another thread may have moved it
            # Shut down (a server stopping) while the sandbox was being launched, before there
            # was a supervisor to kill it: nothing may outlive the shutdown.
            self._die()
            self._init_failure = _InitFailure("Runtime.ExitError", None,
                                              self.supervisor.exit_reason())
            self.init_duration_ms = (time.perf_counter() - t0) * 1000
            return
        deadline = t0 + self.init_timeout_s
        while True:
            if self.api.init_error is not None:
                body, header = self.api.init_error
                etype = _error_type_of(body, header) or "Runtime.Unknown"
                self._init_failure = _InitFailure(etype, body)
                break
            if self.api.init_done.is_set():
                break
            if self.supervisor.exited.is_set():
                self._init_failure = self._exit_during_init()
                break
            remaining = deadline - time.perf_counter()
            if remaining <= 0:
                self.supervisor.kill("timeout")
                self._init_failure = _InitFailure(
                    "Sandbox.Timedout", None,
                    f"Task timed out after {float(self.init_timeout_s):.2f} seconds")
                break
            self._wake.wait(remaining)
            self._wake.clear()
        self.init_duration_ms = (time.perf_counter() - t0) * 1000
        if self._init_failure is None:
            self.supervisor.idle()
            self._move(State.READY)

    def _exit_during_init(self) -> _InitFailure:
        """How a runtime that died before its first `next` failed. bwrap reports a bootstrap
        it could not execute on stderr (`bwrap: execvp PATH: REASON`), which is Lambda's
        Runtime.InvalidEntrypoint rather than a runtime's own exit."""
        assert self.supervisor is not None
        text = self.supervisor.peek_output()
        # Only bwrap's own last words: written before any code of the function ran, so first,
        # alone, and followed by bwrap's exit status 1 (a function cannot forge this).
        lines = text.splitlines()
        if (self.supervisor.bwrap and self.supervisor.returncode == 1 and len(lines) == 1
                and lines[0].startswith(b"bwrap: execvp ")):
            line = lines[0][len(b"bwrap: execvp "):].decode("utf-8", "replace")
            path, _, reason = line.rpartition(": ")
            return _InitFailure("Runtime.InvalidEntrypoint", None, f"fork/exec {path}: {reason.lower()}")
        return _InitFailure("Runtime.ExitError", None, self.supervisor.exit_reason())

    def invoke(self, payload: bytes, *, request_id: str | None = None,
               client_context: str | None = None, cognito_identity: str | None = None,
               invoked_function_arn: str | None = None, timeout_s: float | None = None
               ) -> InvokeOutcome:
        """Run one invocation to its end; never raises for a function's own failure."""
        if not self._started:
            self.start()
        rid = request_id or new_uuid()
        if self._init_failure is not None and self._state is State.INIT:
            return self._init_failed(rid)
        self._move(State.INVOKING)
        assert self.api is not None and self.supervisor is not None
        self._thaw()
        from lambdactl.runtime.api import Invocation

        sup = self.supervisor
        timeout = self.spec.timeout_s if timeout_s is None else timeout_s
        start_wall = time.time()
        inv = Invocation(
            payload=payload,
            deadline_ms=int((start_wall + timeout) * 1000),
            invoked_function_arn=invoked_function_arn or self.spec.function_arn,
            request_id=rid, client_context=client_context, cognito_identity=cognito_identity,
        )
        self._current = inv
        sup.busy()
        t0 = time.perf_counter()
        self._deadline = t0 + timeout
        self.api.post(inv)
        if sup.exited.is_set():  # died while idle: no runtime will ever take it
            inv.complete("exit")
        if not inv.done.wait(timeout):
            inv.complete("timeout")
        duration_ms = (time.perf_counter() - t0) * 1000
        self._current = None
        self.api.abandon(inv)
        self.invocations += 1
        return self._conclude(inv, duration_ms, timeout)

    def _memory_mb(self) -> int:
        sup = self.supervisor
        if sup is None:
            return 0
        if not sup.exited.is_set():
            sup.sample(scan_shared=False)  # the pump's samples scan; this one is on the hot path
        return math.ceil(sup.peak_rss_bytes / MIB)

    def _conclude(self, inv: Invocation, duration_ms: float, timeout_s: float) -> InvokeOutcome:
        sup = self.supervisor
        assert sup is not None
        init_ms = self.init_duration_ms if self._cold else None
        self._cold = False
        rid = inv.request_id
        kind = inv.kind
        extra = b""
        function_error: str | None = None
        error_type: str | None = None
        reusable = True
        if kind == "response":
            status, payload = "success", inv.body
        elif kind == "error":
            status, payload, function_error = "error", inv.body, "Unhandled"
            error_type = _error_type_of(inv.body, inv.error_type)
        elif kind == "too_large":
            status, function_error = "error", "Unhandled"
            error_type = "Function.ResponseSizeTooLarge"
            payload = _error_json(error_type, "Response payload size exceeded maximum allowed "
                                  f"payload size ({MAX_RUNTIME_RESPONSE_BYTES} bytes).")
        elif kind == "timeout":
            sup.kill("timeout")
            reusable = False
            status, function_error, error_type = "timeout", "Unhandled", "Sandbox.Timedout"
            payload = _error_json(error_type, f"RequestId: {rid} Error: Task timed out after "
                                  f"{timeout_s:.2f} seconds")
            extra = logs.timeout_line(rid, timeout_s).encode()
        else:  # 'exit': the runtime died (crash, os._exit, killed for memory)
            sup.exited.wait(5)
            reusable = False
            status = "oom" if sup.kill_reason == "oom" else "crash"
            function_error, error_type = "Unhandled", "Runtime.ExitError"
            text = f"RequestId: {rid} Error: {sup.exit_reason()}"
            payload = _error_json(error_type, text)
            extra = f"{text}\nRuntime.ExitError\n".encode()
        max_mb = self._memory_mb()
        log = sup.take_output()
        if extra:
            log = (log if not log or log.endswith(b"\n") else log + b"\n") + extra
        if reusable and not sup.exited.is_set():
            sup.idle()
            self._move(State.READY)
        else:
            reusable = False
            self._die()
        return InvokeOutcome(rid, payload, function_error, error_type, log, duration_ms, init_ms,
                             max_mb, status, reusable)

    def _init_failed(self, rid: str) -> InvokeOutcome:
        failure = self._init_failure
        assert failure is not None
        log = b""
        if self.supervisor is not None:
            if not self.supervisor.exited.is_set():
                self.supervisor.kill("shutdown")
            log = self.supervisor.take_output()
        if failure.payload is None:
            text = f"RequestId: {rid} Error: {failure.message}"
            log = (log if not log or log.endswith(b"\n") else log + b"\n") + (
                f"{text}\n{failure.error_type}\n".encode())
        max_mb = self._memory_mb()
        self._die()
        return InvokeOutcome(rid, failure.body(rid), "Unhandled", failure.error_type, log,
                             self.init_duration_ms or 0.0, self.init_duration_ms, max_mb,
                             "error", False)

    def _die(self) -> None:
        with self._state_lock:
            self._state = State.DEAD
        if self.supervisor is not None:
            self.supervisor.close()
        if self.api is not None:
            self.api.close()

    def shutdown(self) -> None:
        """Kill the runtime and everything it started; idempotent."""
        if self._state is State.INVOKING:
            raise InvalidStateTransition(self._state, State.DEAD)
        self._die()

    def __enter__(self) -> ExecutionEnvironment:
        return self

    def terminate(self) -> None:
        """Kill the runtime and everything it started even in the middle of an invocation (a
        server stopping): the invocation ends as the runtime's death, as in Lambda."""
        with self._state_lock:
            self._state = State.DEAD if self._state is State.INVOKING else self._state
        self._die()

    def __exit__(self, *exc: object) -> None:
        self.terminate()
