"""The Lambda Runtime API (`/2018-06-01/runtime/...`) served to ONE execution environment.

Owns: a listener on 127.0.0.1 with a fresh ephemeral port, a small HTTP/1.1 parser (keep-alive,
Content-Length and chunked bodies), the runtime-side state machine (init -> next -> response |
error -> next ...), and the hand-over of one `Invocation` at a time. Must not know about processes,
sandboxes, logs or the registry: the environment posts invocations and waits on them.

Why not `http.server`: its per-request overhead (email.parser for headers, BaseHTTPRequestHandler
setup) is several hundred microseconds; this parser keeps the warm round trip well under 1 ms.
Any local process can reach the port (shared network namespace, so functions can reach host
services): the environment passes `authorize`, which admits only connections whose socket belongs
to its own process tree, and request ids are uuid4, so no one else can answer an event either.
"""

from __future__ import annotations

import _socket
import errno
import json
import os
import re
import socket
import threading
import time
from collections.abc import Callable

from lambdactl._record import dataclass, field
from lambdactl.httpwire import BadRequest, Conn, Request, read_request, response
from lambdactl.limits import MAX_RUNTIME_RESPONSE_BYTES
from lambdactl.models import new_uuid

PREFIX = b"/2018-06-01/runtime/"
# A runtime needs one or two connections; a function that opens more only hurts itself, but must
# not be able to grow the server's threads or memory without bound.
MAX_CONNECTIONS = 8
HEAD_TIMEOUT_S = 10.0  # from a head's first byte to its end (an idle connection may wait forever)
MAX_HEAD_BYTES = 2 << 20  # runtimes send X-Ray error causes (up to ~1 MiB) in a header
BODY_TIMEOUT_S = 60.0  # a body's grace, then 1 MiB/s (httpwire)


def new_trace_id() -> str:
    """An X-Ray trace header as Lambda hands it out (not sampled)."""
    h = os.urandom(20).hex()
    return f"Root=1-{int(time.time()):08x}-{h[:24]};Parent={h[24:40]};Sampled=0"


@dataclass
class Invocation:
    """One request handed to the runtime and, once answered, its result."""

    payload: bytes
    deadline_ms: int
    invoked_function_arn: str
    request_id: str = field(default_factory=new_uuid)
    trace_id: str = field(default_factory=new_trace_id)
    client_context: str | None = None
    cognito_identity: str | None = None
    # Filled in when the invocation ends.
    kind: str | None = None  # 'response' | 'error' | 'too_large' | set by the environment
    body: bytes = b""
    error_type: str | None = None
    done: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def complete(self, kind: str, body: bytes = b"", error_type: str | None = None) -> bool:
        """End the invocation once; later calls (a late response after a timeout) are refused."""
        with self._lock:
            if self.kind is not None:
                return False
            self.kind, self.body, self.error_type = kind, body, error_type
        self.done.set()
        return True

    def next_headers(self) -> list[tuple[str, str]]:
        h = [
            ("Lambda-Runtime-Aws-Request-Id", self.request_id),
            ("Lambda-Runtime-Deadline-Ms", str(self.deadline_ms)),
            ("Lambda-Runtime-Invoked-Function-Arn", self.invoked_function_arn),
            ("Lambda-Runtime-Trace-Id", self.trace_id),
            ("Content-Type", "application/json"),
        ]
        if self.client_context is not None:
            h.append(("Lambda-Runtime-Client-Context", self.client_context))
        if self.cognito_identity is not None:
            h.append(("Lambda-Runtime-Cognito-Identity", self.cognito_identity))
        return h


def _error(status: int, error_type: str, message: str) -> bytes:
    body = json.dumps({"errorMessage": message, "errorType": error_type}).encode()
    return response(status, body, [("Content-Type", "application/json")])


_UNSAFE_HEADER = re.compile("[\r\n\0]")
ACCEPTED = response(202, b'{"status":"OK"}', [("Content-Type", "application/json")])


class RuntimeAPI:
    """The Runtime API listener of one environment.

    The environment calls `post(invocation)`; the runtime's pending `next` receives it, and its
    `response`/`error` completes it. `on_init_done` fires at the first `next` (INIT is over);
    `init_error` holds what `/runtime/init/error` reported.
    """

    def __init__(self, max_response_bytes: int = MAX_RUNTIME_RESPONSE_BYTES,
                 authorize: Callable[[int], bool] | None = None,
                 listener: _socket.socket | None = None) -> None:
        """`listener`: a bound, listening loopback socket to serve on (a plain `_socket` one
        will do: the environment makes it before `socket` is loaded); default: a fresh one."""
        self.max_response_bytes = max_response_bytes
        # Given the peer's port, says whether the connection comes from this environment's own
        # runtime; others are closed unanswered (a function must not take another's events).
        self.authorize = authorize
        if listener is None:
            self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            self._listener.bind(("127.0.0.1", 0))
            self._listener.listen(16)
        else:
            self._listener = socket.socket(fileno=listener.detach())
        self.port: int = self._listener.getsockname()[1]
        self.address = f"127.0.0.1:{self.port}"
        self._cond = threading.Condition()
        self._pending: Invocation | None = None  # posted, not yet handed out
        self._current: Invocation | None = None  # handed out, not yet answered
        self._closed = False
        self._conns: set[socket.socket] = set()
        self.init_done = threading.Event()
        # Set while the runtime waits in `next` with nothing to hand it: its last answer is
        # delivered and it is idle (when an environment may be frozen).
        self.parked = threading.Event()
        self.init_error: tuple[bytes, str | None] | None = None
        self.on_event: Callable[[], None] | None = None  # called on init done / init error
        self._thread = threading.Thread(target=self._accept_loop, name=f"rapi-{self.port}",
                                        daemon=True)
        self._thread.start()

    # -- environment side -------------------------------------------------------------------

    def post(self, inv: Invocation) -> None:
        # Header values that came from a caller must not end the head early (response splitting
        # into the runtime's stream); the service already sends them compact and ASCII.
        for value in (inv.client_context, inv.cognito_identity, inv.invoked_function_arn):
            if value is not None and _UNSAFE_HEADER.search(value):
                raise ValueError("a Runtime API header value holds CR, LF or NUL")
        with self._cond:
            if self._closed:
                raise RuntimeError("Runtime API is closed")
            if self._pending is not None or self._current is not None:
                raise RuntimeError("an invocation is already in progress")
            self._pending = inv
            self._cond.notify_all()

    def abandon(self, inv: Invocation) -> None:
        """Forget an invocation that ended without an answer (timeout, crash)."""
        with self._cond:
            if self._pending is inv:
                self._pending = None
            if self._current is inv:
                self._current = None

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify_all()
            conns = list(self._conns)
        try:
            # close() alone does not wake a thread blocked in accept() on Linux; shutdown does.
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        try:
            self._listener.close()
        except OSError:
            pass
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    # -- server side ------------------------------------------------------------------------

    def _accept_loop(self) -> None:
        while True:
            try:
                sock, _ = self._listener.accept()
            except OSError as exc:
                if self._closed or exc.errno in (errno.EBADF, errno.EINVAL):
                    return
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM):
                    time.sleep(0.1)  # out of descriptors: the runtime's connection waits in the backlog
                continue
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            with self._cond:
                if self._closed:
                    sock.close()
                    return
                if len(self._conns) >= MAX_CONNECTIONS:
                    sock.close()
                    continue
                self._conns.add(sock)
            threading.Thread(target=self._serve, args=(sock,), daemon=True,
                             name=f"rapi-{self.port}-conn").start()

    def _serve(self, sock: socket.socket) -> None:
        conn = Conn(sock, BODY_TIMEOUT_S)
        try:
            if self.authorize is not None and not self.authorize(sock.getpeername()[1]):
                return
            while True:
                # Read the body first so the connection stays in sync whatever we answer.
                req = read_request(conn, self.max_response_bytes, HEAD_TIMEOUT_S, MAX_HEAD_BYTES)
                if req is None:
                    return
                out, close = self._handle(req)
                if out is None:  # closed while a `next` was waiting
                    return
                sock.sendall(out)
                if close:
                    return
        except (OSError, BadRequest):
            return
        finally:
            with self._cond:
                self._conns.discard(sock)
            try:
                sock.close()
            except OSError:
                pass

    def _handle(self, req: Request) -> tuple[bytes | None, bool]:
        close = not req.keep_alive
        method, body, too_large, headers = req.method.encode(), req.body, req.truncated, req.headers
        target = req.target.encode("latin-1")
        path = target.split(b"?", 1)[0]
        if not path.startswith(PREFIX):
            return _error(404, "NotFound", "Not Found"), close
        route = path[len(PREFIX):]
        if route == b"invocation/next":
            if method != b"GET":
                return _error(405, "MethodNotAllowed", "Use GET"), close
            return self._next(), close
        if route == b"init/error":
            if method != b"POST":
                return _error(405, "MethodNotAllowed", "Use POST"), close
            return self._init_error(body, headers), close
        if route.startswith(b"invocation/") and method == b"POST":
            rid, _, what = route[len(b"invocation/"):].partition(b"/")
            if what in (b"response", b"error"):
                return self._answer(rid.decode("latin-1"), what, body, too_large, headers), close
        return _error(404, "NotFound", "Not Found"), close

    def _next(self) -> bytes | None:
        with self._cond:
            if self._current is not None:
                return _error(403, "InvalidStateTransition",
                              "State transition from Invoking to Ready failed: "
                              "the current invocation has not been answered")
            first = not self.init_done.is_set()
            if first:
                self.init_done.set()
        if first and self.on_event is not None:
            self.on_event()
        with self._cond:
            if self._pending is None:
                self.parked.set()
            while self._pending is None and not self._closed:
                self._cond.wait()
            self.parked.clear()
            if self._closed:
                return None
            inv = self._pending
            assert inv is not None
            self._pending, self._current = None, inv
        return response(200, inv.payload, inv.next_headers())

    def _answer(self, rid: str, what: bytes, body: bytes, too_large: bool,
                headers: dict[str, str]) -> bytes:
        with self._cond:
            inv = self._current
            if inv is None or inv.request_id != rid:
                return _error(400, "InvalidRequestID",
                              f"Invalid request ID: {rid!r}")
            self._current = None
        if what == b"response":
            if too_large:
                inv.complete("too_large")
                return _error(413, "RequestEntityTooLarge",
                              f"Exceeded maximum allowed payload size "
                              f"({self.max_response_bytes} bytes).")
            inv.complete("response", body)
            return ACCEPTED
        etype = headers.get("lambda-runtime-function-error-type")
        inv.complete("error", body, etype or None)
        return ACCEPTED

    def _init_error(self, body: bytes, headers: dict[str, str]) -> bytes:
        with self._cond:
            if self.init_done.is_set() or self.init_error is not None:
                return _error(403, "InvalidStateTransition",
                              "State transition from Ready to InitError failed")
            etype = headers.get("lambda-runtime-function-error-type")
            self.init_error = (body, etype or None)
        if self.on_event is not None:
            self.on_event()
        return ACCEPTED
