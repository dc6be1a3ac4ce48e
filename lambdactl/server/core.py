"""`lambdactl serve`: the Lambda endpoint on loopback.

Connections are parked in one epoll selector thread while idle or while their head arrives; a
connection whose head is complete goes to a worker thread, which checks what can be checked from
the head (Host, Origin, the signature's head, the operation's body cap), reads the body, answers,
and serves the next request at once if it is already buffered, else parks the connection again.
REST API calls are routed and translated by `protocol.rest_json` and answered by a per-worker
`Service` (SQLite connections are not shared between threads), lent the server's one `WarmPool`,
lease cache, log sink and keychain; the server holds no business rule of its own. Writes `server.json` in
the home so the CLI can find it, and on stop shuts every environment down and removes the file.

Why this shape: thousands of idle keep-alive connections cost one dict entry each, not a parked
thread; the connection cap closes the longest-idle one to admit a newcomer; a head or body that
arrives too slowly, or a connection idle too long, is closed; running out of descriptors pauses
accepting instead of ending it.
"""

from __future__ import annotations

import errno
import ipaddress
import json
import os
import queue
import select
import socket
import struct
import sys
import threading
import time
from time import monotonic
from typing import Any

from .. import __version__, sigv4
from ..errors import LambdaError
from ..httpwire import (
    MIN_BODY_BYTES_PER_S,
    BadRequest,
    Conn,
    Request,
    TooLarge,
    body_length,
    parse_head,
    read_body_capped,
    response,
)
from ..limits import MAX_REQUEST_BODY_BYTES
from ..models import new_uuid
from ..protocol.rest_json import (
    Router,
    body_cap,
    decode_request,
    encode_error,
    encode_response,
    parse_target,
    too_large,
)
from ..settings import SERVER_FILE, Settings, read_server_file  # noqa: F401 - re-exported
from . import function_urls
from .pool import WarmPool

HEALTH_PATH = "/lambdactl/health"
# Connection limits; each is a `server.*` key of config.toml.
HEADER_TIMEOUT_S = 10.0  # from a head's first byte (or the connection's accept) to its end
KEEPALIVE_TIMEOUT_S = 60.0  # an idle keep-alive connection is closed after this
BODY_TIMEOUT_S = 30.0  # a body's grace; past it a body must arrive at 1 MiB/s (httpwire)
FD_RESERVE = 256  # descriptors left to sandboxes, the registry and logs beside the connections
MAX_CONNECTIONS = 20_000
ACCEPT_PAUSE_S = 0.1  # out of descriptors: accepting resumes after this
LINGER_NEXT_MS = 5  # a worker waits this long for a keep-alive client's next request
LINGER_BYTES = 1 << 20  # read and dropped after refusing a request, so the client sees the answer
LINGER_S = 1.0
PIPELINE_TURN = 64  # requests a connection is served in a row before others get a worker's turn
_ARM = select.EPOLLIN | select.EPOLLONESHOT
_ARM_SEND = select.EPOLLOUT | select.EPOLLONESHOT
_FD_EXHAUSTED = (errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM)


def is_loopback(host: str) -> bool:
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def check_bind(host: str, require_auth: bool) -> None:
    """Serving beyond this machine needs signed requests: anyone who can reach the port could
    otherwise create and run code."""
    if not require_auth and not is_loopback(host):
        raise UsageError(f"--host {host} is not a loopback address; serving other hosts needs --require-auth "
                         "(requests SigV4-signed with a key of config.toml [server.credentials])")


class UsageError(ValueError):
    """A flag combination `serve` refuses (exit 252)."""


def raise_nofile_limit() -> int:
    """Raise RLIMIT_NOFILE's soft limit to the hard one (connections are descriptors); the new soft limit."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if target > soft:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            return soft
    return target


class _Client(Conn):
    """A connection: its buffer, who it is, (while parked) when it is closed unless it speaks, and
    an answer the client has not yet taken with how much longer it may take to drain it."""

    __slots__ = ("fd", "peer", "until", "in_head", "out", "send_budget", "blocked_at")

    def __init__(self, sock: socket.socket, peer: Any, body_timeout_s: float) -> None:
        super().__init__(sock, body_timeout_s, rcvtimeo=True)
        self.fd = sock.fileno()
        self.peer = peer
        self.until = 0.0
        self.in_head = True  # a new connection's head is due within the header timeout
        self.out: bytes | memoryview = b""  # the rest of an answer the socket would not take
        # Seconds the client may yet keep the server waiting to send: the body timeout's grace,
        # spent while sends are blocked, earned back at MIN_BODY_BYTES_PER_S of what it drains.
        self.send_budget = body_timeout_s
        self.blocked_at = 0.0


class LambdaServer:
    access_log: Any = None  # an AccessLog set by `serve` unless --quiet

    def __init__(self, settings: Settings, host: str = "127.0.0.1", port: int = 9001, *, idle_timeout_s: float | None = None,
                 require_auth: bool = False) -> None:
        check_bind(host, require_auth)
        self.settings = settings
        self.router = Router()
        self.require_auth = require_auth
        self.credentials = sigv4.credentials(settings.get("server.credentials"))  # ValueError if malformed
        if require_auth and not self.credentials:
            raise ValueError('--require-auth needs access keys in config.toml: [server.credentials] AKID = "secret"')
        from ..service import access

        # Config keys for the user; each function's own credentials for what runs inside one;
        # the home's link key for code downloads.
        try:
            secret = access.home_secret(settings)
        except LambdaError as exc:
            raise ValueError(exc.message) from None
        self.keys = access.Keychain(secret, self.credentials)
        self.link_keys = access.link_lookup(secret)
        timeout = idle_timeout_s if idle_timeout_s is not None else float(settings.get("server.idle_timeout_s", 300))
        self.pool = WarmPool(idle_timeout_s=timeout)
        self._local = threading.local()
        self._services: list[Any] = []
        self._listener = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
        self._listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._listener.bind((host, port))
        self._listener.listen(1024)
        self._listener.setblocking(False)
        self.host = host
        self.port = self._listener.getsockname()[1]
        self.header_timeout_s = float(settings.get("server.header_timeout_s", HEADER_TIMEOUT_S))
        self.keepalive_timeout_s = float(settings.get("server.keepalive_timeout_s", KEEPALIVE_TIMEOUT_S))
        self.body_timeout_s = float(settings.get("server.body_timeout_s", BODY_TIMEOUT_S))
        self.max_connections = int(settings.get("server.max_connections", 0))  # 0: by the descriptor limit at start
        seconds = max(self.body_timeout_s, 0.001)
        self._timeval = struct.pack("ll", int(seconds), int(seconds % 1 * 1_000_000))
        self._hosts, self._any_host = self._served_hosts(host, settings.get("server.allowed_hosts", []))
        self._hosts_with_port = frozenset(f"{h}:{self.port}" for h in self._hosts)  # what clients send most
        self.url = f"http://{host if ':' not in host else f'[{host}]'}:{self.port}"
        self._clients: dict[int, _Client] = {}  # every open connection, by descriptor
        self._parked: dict[int, _Client] = {}  # those the selector watches, longest parked first
        self._lock = threading.Lock()  # guards both dicts and the epoll registrations
        self._epoll = select.epoll()
        self._wake_r, self._wake_w = os.pipe2(os.O_NONBLOCK | os.O_CLOEXEC)
        self._work: queue.SimpleQueue[_Client | None] = queue.SimpleQueue()
        self._wlock = threading.Lock()
        self._idle_workers = 0
        self._workers = 0
        self._stopped = threading.Event()
        self._accept_thread: threading.Thread | None = None
        self._fd_warned = 0.0
        from ..service import Service
        from ..service.logs import BatchingSink

        self.log_sink = BatchingSink(lambda: Service(self.settings))
        from .leases import LeaseCache

        self.leases = LeaseCache(lambda: Service(self.settings))

    # -- lifecycle ------------------------------------------------------------------------------

    def start(self) -> None:
        nofile = raise_nofile_limit()
        if self.max_connections <= 0:
            self.max_connections = max(64, min(MAX_CONNECTIONS, nofile - FD_RESERVE))
        self._accept_thread = threading.Thread(target=self._selector_loop, name="lambda-accept", daemon=True)
        self._accept_thread.start()
        self._write_server_file()
        threading.Thread(target=self._in_own_service, args=("lambdactl:Provision",), name="provision", daemon=True).start()
        from ..service import Service, storage

        threading.Thread(target=storage.at_serve_start, args=(Service(self.settings),), name="storage-sweep", daemon=True).start()

    def _in_own_service(self, op: str) -> None:
        """Call `op` from a thread of its own, with a service of its own."""
        svc = self.new_service()
        try:
            svc.call(op, {})
        except Exception as exc:  # noqa: BLE001 - a background start-up task reports, never kills the server
            print(f"lambdactl serve: {op}: {type(exc).__name__}: {exc}", file=sys.stderr)
        finally:
            svc.close()

    def _write_server_file(self) -> None:
        from ..settings import ensure_home, write_private

        ensure_home(self.settings.home)
        info = {"pid": os.getpid(), "host": self.host, "port": self.port, "url": self.url,
                "started": time.time(), "version": __version__, "require_auth": self.require_auth}
        write_private(self.settings.home / SERVER_FILE, json.dumps(info).encode("utf-8"))

    def stop(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        try:
            os.write(self._wake_w, b"x")
        except OSError:
            pass
        try:
            self._listener.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self._listener.close()
        with self._lock:
            conns = list(self._clients.values())
        for c in conns:
            try:
                c.sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
        with self._wlock:
            workers = self._workers
        for _ in range(workers):
            self._work.put(None)
        self.pool.shutdown()
        self.leases.close()
        self.log_sink.close()
        path = self.settings.home / SERVER_FILE
        try:
            if json.loads(path.read_text()).get("pid") == os.getpid():
                path.unlink()
        except (OSError, ValueError):
            pass

    def wait(self, timeout: float | None = None) -> bool:
        """Whether the server has stopped, waiting up to `timeout` seconds (None: until it has)."""
        return self._stopped.wait(timeout)

    # -- connections ----------------------------------------------------------------------------

    @staticmethod
    def _served_hosts(host: str, extra: Any) -> tuple[frozenset[str], bool]:
        """The Host header values served (with and without the port is added by the caller's
        check), and whether any is (a wildcard bind, which `check_bind` allows only with
        --require-auth). Other names are refused: that is what defeats DNS rebinding."""
        names = {"127.0.0.1", "localhost", "[::1]", host.lower() if ":" not in host else f"[{host.lower()}]"}
        names.update(str(h).lower() for h in (extra if isinstance(extra, list) else [extra]) if h)
        wildcard = host in ("0.0.0.0", "::", "")
        return frozenset(names), wildcard

    def host_allowed(self, host: str) -> bool:
        """Whether a Host header names this server, or one of its function URLs under a served name."""
        if host in self._hosts_with_port:
            return True
        h = host.lower()
        if self._any_host or h in self._hosts or self._host_name(h) in self._hosts:
            return True
        m = function_urls.HOST_RE.match(h)
        return m is not None and self._host_name(h[m.end():]) in self._hosts

    def _host_name(self, host: str) -> str:
        """`host` without this server's port (the port is optional, as clients send it); "" when
        it names another port."""
        name, sep, port = host.rpartition(":")
        if not sep or host.endswith("]"):
            return host
        return name if port == str(self.port) else ""

    def _selector_loop(self) -> None:
        ep = self._epoll
        lfd = self._listener.fileno()
        ep.register(lfd, select.EPOLLIN)
        ep.register(self._wake_r, select.EPOLLIN)
        tick = max(0.01, min(1.0, self.header_timeout_s / 4, self.keepalive_timeout_s / 4))
        resume_at = 0.0
        next_sweep = monotonic() + tick
        try:
            while not self._stopped.is_set():
                events = ep.poll(min(tick, ACCEPT_PAUSE_S) if resume_at else tick)
                for fd, _ in events:
                    if fd == lfd:
                        if not self._accept_all():
                            ep.modify(lfd, 0)
                            resume_at = monotonic() + ACCEPT_PAUSE_S
                    elif fd == self._wake_r:
                        os.read(self._wake_r, 64)
                    else:
                        self._on_ready(fd)
                now = monotonic()
                if resume_at and now >= resume_at and not self._stopped.is_set():
                    resume_at = 0.0
                    ep.modify(lfd, select.EPOLLIN)
                if now >= next_sweep:
                    self._sweep(now)
                    next_sweep = now + tick
        except OSError:
            if not self._stopped.is_set():
                raise
        finally:
            with self._lock:
                parked = list(self._parked.values())
                for c in parked:
                    self._drop_locked(c)

    def _accept_all(self) -> bool:
        """Accept what the backlog holds; False when out of descriptors (accepting pauses)."""
        for _ in range(256):  # bounded, so parked connections get their turn
            try:
                sock, peer = self._listener.accept()
            except BlockingIOError:
                return True
            except OSError as exc:
                if exc.errno in _FD_EXHAUSTED:
                    now = monotonic()
                    if now - self._fd_warned > 10:
                        self._fd_warned = now
                        print(f"lambdactl serve: cannot accept connections ({exc.strerror}); retrying", file=sys.stderr)
                    return False
                if self._stopped.is_set():
                    return True
                continue  # that one connection failed (aborted, refused by a filter)
            try:
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
                # Blocking, so a send or receive is one system call (a socket timeout would poll
                # first), each bounded by the kernel; the selector reads with MSG_DONTWAIT.
                sock.setblocking(True)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, self._timeval)
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, self._timeval)
            except OSError:
                sock.close()
                continue
            client = _Client(sock, peer, self.body_timeout_s)
            with self._lock:
                if len(self._clients) >= self.max_connections:
                    victim = next(iter(self._parked.values()), None)
                    if victim is None:  # every connection is busy: the newcomer goes
                        sock.close()
                        continue
                    self._drop_locked(victim)
                self._clients[client.fd] = client
                client.until = monotonic() + self.header_timeout_s
                self._parked[client.fd] = client
                self._epoll.register(client.fd, _ARM)
        return True

    def _drop_locked(self, c: _Client) -> None:
        self._parked.pop(c.fd, None)
        if self._clients.get(c.fd) is c:
            del self._clients[c.fd]
        try:
            c.sock.close()
        except OSError:
            pass

    def _close(self, c: _Client) -> None:
        with self._lock:
            self._drop_locked(c)

    def _park(self, c: _Client, until: float, arm: int = _ARM) -> None:
        """Hand a connection (back) to the selector until `until`, to wait for what it sends next
        (or, `_ARM_SEND`, for room to send it the rest of an answer)."""
        with self._lock:
            if self._clients.get(c.fd) is not c or self._stopped.is_set():
                self._drop_locked(c)
                return
            c.until = until
            self._parked[c.fd] = c
            try:
                self._epoll.modify(c.fd, arm)
            except OSError:
                self._drop_locked(c)

    def _sweep(self, now: float) -> None:
        with self._lock:
            expired = [c for c in self._parked.values() if c.until <= now]
            for c in expired:
                self._drop_locked(c)

    def _on_ready(self, fd: int) -> None:
        with self._lock:
            c = self._parked.pop(fd, None)
        if c is None:
            return
        if c.out:  # room to send more of an answer (or an error, which the send will report)
            now = monotonic()
            c.send_budget -= now - c.blocked_at  # the wait for a worker is not the client's
            c.blocked_at = now
            self._dispatch(c)
            return
        try:
            data = c.sock.recv(65536, socket.MSG_DONTWAIT)
        except BlockingIOError:
            self._park(c, c.until)
            return
        except OSError:
            self._close(c)
            return
        if not data:
            self._close(c)
            return
        c.buf += data
        if c.has_head():
            self._dispatch(c)
            return
        if not c.in_head and c.buf.strip(b"\r\n"):
            c.in_head = True
            c.until = monotonic() + self.header_timeout_s
        self._park(c, c.until)

    def _dispatch(self, c: _Client) -> None:
        with self._wlock:
            spawn = not self._idle_workers
            if spawn:
                self._workers += 1
            else:
                self._idle_workers -= 1
        self._work.put(c)
        if spawn:
            threading.Thread(target=self._worker, daemon=True, name="lambda-conn").start()

    def _worker(self) -> None:
        while True:
            c = self._work.get()
            if c is None:
                return
            again = False
            try:
                again = self._serve(c)
            except Exception as exc:  # noqa: BLE001 - a worker must outlive any one connection
                print(f"lambdactl serve: connection failed: {type(exc).__name__}: {exc}", file=sys.stderr)
                self._close(c)
            with self._wlock:
                self._idle_workers += 1
            if again:  # behind the connections already waiting
                self._dispatch(c)

    def _serve(self, c: _Client) -> bool:
        """Answer the requests `c` has buffered or sends within a moment, then park it (or close
        it). True when it has more requests buffered but has had its turn."""
        try:
            if c.out and not self._flush(c):
                return False
            for _ in range(PIPELINE_TURN):
                if self._stopped.is_set():
                    break
                try:
                    head = c.take_head()
                except BadRequest as exc:
                    self._refuse(c, _bad_request(exc))
                    return False
                if head is None:
                    self._park(c, c.until if c.in_head else monotonic() + self.keepalive_timeout_s)
                    return False
                c.in_head = False
                out, keep = self._logged_exchange(c, head)
                if not keep:
                    self._refuse(c, out)
                    return False
                if not self._send(c, out):
                    return False
                if not c.buf and not self._linger(c):
                    return False
                if not c.has_head():
                    if c.buf.strip(b"\r\n"):
                        c.in_head = True
                        self._park(c, monotonic() + self.header_timeout_s)
                    else:
                        self._park(c, monotonic() + self.keepalive_timeout_s)
                    return False
            else:
                return True
        except OSError:
            pass
        self._close(c)
        return False

    def _send(self, c: _Client, out: bytes) -> bool:
        """Send an answer, or as much as the socket takes without waiting and park the connection
        until it has room for the rest: a client that reads slowly holds no worker. True when all
        was sent."""
        try:
            n = c.sock.send(out, socket.MSG_DONTWAIT)
        except BlockingIOError:
            n = 0
        if n == len(out):
            return True
        c.out = memoryview(out)[n:]
        self._park_sending(c, monotonic())
        return False

    def _flush(self, c: _Client) -> bool:
        """Send more of the answer `c` was parked with; True when it is all sent. The time the
        connection waited for room was spent from its budget (`_on_ready`); what the client
        drained earns some back (up to the grace): one that drains slower than
        MIN_BODY_BYTES_PER_S runs out and is closed."""
        now = monotonic()
        try:
            n = c.sock.send(c.out, socket.MSG_DONTWAIT)
        except BlockingIOError:
            n = 0
        c.send_budget = min(self.body_timeout_s, c.send_budget + n / MIN_BODY_BYTES_PER_S)
        c.out = c.out[n:]
        if c.out:
            self._park_sending(c, now)
            return False
        c.out = b""
        return True

    def _park_sending(self, c: _Client, now: float) -> None:
        if c.send_budget <= 0:
            self._close(c)
            return
        c.blocked_at = now
        self._park(c, now + c.send_budget, _ARM_SEND)

    def _linger(self, c: _Client) -> bool:
        """Wait a moment for the client's next request on this worker: a client that sends it at
        once (an SDK's loop) skips the hops through the selector. False when `c` is closed."""
        if c.poller is None:
            c.poller = select.poll()
            c.poller.register(c.fd, select.POLLIN)
        if not c.poller.poll(LINGER_NEXT_MS):
            return True
        try:
            data = c.sock.recv(65536, socket.MSG_DONTWAIT)
        except BlockingIOError:
            return True
        if not data:
            self._close(c)
            return False
        c.buf += data
        return True

    def _refuse(self, c: _Client, out: bytes) -> None:
        """Send a last answer and close, reading (and dropping) a little of what the client is
        still sending first, so the answer reaches it instead of a reset."""
        try:
            if c.sock.send(out, socket.MSG_DONTWAIT) < len(out):  # a client not reading gets no wait
                raise BlockingIOError
            c.sock.shutdown(socket.SHUT_WR)
            deadline = monotonic() + LINGER_S
            dropped = 0
            c.sock.settimeout(LINGER_S)
            while dropped < LINGER_BYTES and monotonic() < deadline:
                data = c.sock.recv(65536)
                if not data:
                    break
                dropped += len(data)
        except OSError:
            pass
        self._close(c)

    def _logged_exchange(self, c: _Client, head: bytes) -> tuple[bytes, bool]:
        """`_exchange`, timed for the access log when one is kept (it formats on its own thread)."""
        if self.access_log is None:
            return self._exchange(c, head)
        started = monotonic()
        out, keep = self._exchange(c, head)
        self.access_log.record(head, out, monotonic() - started)
        return out, keep

    def _exchange(self, c: _Client, head: bytes) -> tuple[bytes, bool]:
        """One request on `c`: the answer, and whether the connection may serve another."""
        try:
            req = parse_head(head)
        except BadRequest as exc:
            return _bad_request(exc), False
        req.peer = c.peer
        try:
            limit = self._admit(req)
        except LambdaError as exc:
            # A small body is read and dropped, so the client may go on (the CLI signs its retry
            # after a 403 challenge on the same connection); a large one is not read at all.
            keep = req.keep_alive and self._skip_body(c, req)
            status, headers, body = encode_error(exc)
            headers.append(("x-amzn-RequestId", new_uuid()))
            return response(status, body, headers, close=not keep), keep
        try:
            req.body = read_body_capped(c, req, limit)
        except TooLarge:
            return self._too_large(req, limit), False
        except BadRequest as exc:
            return _bad_request(exc), False
        return self.handle(req), req.keep_alive

    @staticmethod
    def _skip_body(c: _Client, req: Request) -> bool:
        """Read and drop a refused request's body when it is small; whether that was done."""
        if "expect" in req.headers:
            return False
        try:
            n = body_length(req)
            if n is None or n > MAX_REQUEST_BODY_BYTES:
                return False
            read_body_capped(c, req, n)
        except (BadRequest, OSError):
            return False
        return True

    def _admit(self, req: Request) -> int:
        """What the head alone decides: a served Host, no foreign Origin on the control plane, a
        signature that can be right (with --require-auth), a known operation; the body cap."""
        host = req.headers.get("host", "")
        if not self.host_allowed(host):
            raise LambdaError("AccessDeniedException", f"Host {host!r} is not served here: use the address the server listens on.", 403)
        if function_urls.match(req) is not None:
            return body_cap("Invoke")
        origin = req.headers.get("origin")
        if origin is not None and origin.lower() != f"http://{host.lower()}":
            raise LambdaError("AccessDeniedException", f"Requests from the web origin {origin!r} are refused.", 403)
        path, query = parse_target(req.target)
        if path.startswith("/lambdactl/"):
            return MAX_REQUEST_BODY_BYTES
        if self.require_auth:
            try:
                sigv4.verify(req.method, req.target, req.headers, None, self.keys)
            except sigv4.SignatureError as exc:
                raise LambdaError(exc.code, exc.message, exc.status) from None
        matched = self.router.match(req.method, path, query)
        if matched is None:
            raise LambdaError("UnknownOperationException", f"Unknown operation {req.method} {path}", 404)
        req.ctx = matched
        return body_cap(matched[0].op)

    def _too_large(self, req: Request, limit: int) -> bytes:
        if function_urls.match(req) is not None:
            return function_urls.too_large(too_large("Invoke", limit), new_uuid())
        op = req.ctx[0].op if isinstance(req.ctx, tuple) else "lambdactl"
        status, headers, body = encode_error(too_large(op, limit))
        headers.append(("x-amzn-RequestId", new_uuid()))
        return response(status, body, headers, close=True)

    def new_service(self) -> Any:
        """A `Service` lent this server's pool, leases, log sink and keys (one per thread)."""
        from ..service import Service

        return Service(self.settings, host_paths=False, endpoint_url=self.url, environments=self.pool,
                       leases=self.leases, log_sink=self.log_sink, keys=self.keys)

    def service(self) -> Any:
        """This worker thread's service."""
        svc = getattr(self._local, "svc", None)
        if svc is None:
            svc = self._local.svc = self.new_service()
        return svc

    # -- requests -------------------------------------------------------------------------------

    def handle(self, req: Request) -> bytes:
        request_id = new_uuid()
        path, query = parse_target(req.target)
        keep = req.keep_alive
        try:
            url = function_urls.match(req)
            if url is not None:
                return function_urls.handle(self, req, *url, request_id)
            if path.startswith("/lambdactl/"):
                return self._local_route(req, path, request_id, keep)
            if self.require_auth:
                try:
                    sigv4.verify(req.method, req.target, req.headers, req.body, self.keys)
                except sigv4.SignatureError as exc:
                    raise LambdaError(exc.code, exc.message, exc.status) from None
            matched = req.ctx if isinstance(req.ctx, tuple) else self.router.match(req.method, path, query)
            if matched is None:
                raise LambdaError("UnknownOperationException", f"Unknown operation {req.method} {path}", 404)
            route, params = matched
            result = self.service().call(route.op, decode_request(route, params, query, req.headers, req.body))
            status, headers, body = encode_response(route, result)
        except LambdaError as exc:
            status, headers, body = encode_error(exc)
        except Exception as exc:  # noqa: BLE001 - one request's bug must not kill the connection
            status, headers, body = encode_error(LambdaError("ServiceException", f"Internal error: {type(exc).__name__}: {exc}", 500))
            print(f"lambdactl serve: {request_id}: {type(exc).__name__}: {exc}", file=sys.stderr)
        headers.append(("x-amzn-RequestId", request_id))
        return response(status, body, headers, close=not keep)

    def _signed(self, req: Request) -> bool:
        try:
            sigv4.verify(req.method, req.target, req.headers, req.body, self.keys)
        except sigv4.SignatureError:
            return False
        return True

    def _local_route(self, req: Request, path: str, request_id: str, keep: bool) -> bytes:
        """lambdactl's own endpoints: health, and the code/layer downloads `Code.Location` names."""
        if path == HEALTH_PATH:
            # Liveness for anyone; with --require-auth, what runs here (pid, version, pool) only
            # for a signed request.
            doc: dict[str, Any] = {"status": "ok"}
            if not self.require_auth or self._signed(req):
                doc.update(pid=os.getpid(), version=__version__, pool=self.pool.stats())
            return response(200, json.dumps(doc).encode(), [("x-amzn-RequestId", request_id)], close=not keep)
        for prefix, directory in (("/lambdactl/code/", self.settings.code_dir), ("/lambdactl/layers/", self.settings.layers_dir)):
            if path.startswith(prefix):
                # The presignature is the authorisation, with or without --require-auth.
                try:
                    sigv4.verify_presigned(req.method, req.target, req.headers, self.link_keys)
                except sigv4.SignatureError as exc:
                    return response(exc.status, exc.s3_document(request_id), [("Content-Type", "application/xml")], close=not keep)
                name = path[len(prefix):]
                if len(name) == 68 and name.endswith(".zip") and all(c in "0123456789abcdef" for c in name[:64]):
                    try:
                        data = (directory / name).read_bytes()
                    except OSError:
                        break
                    return response(200, data, [("Content-Type", "application/zip")], close=not keep)
        return response(404, b'{"message":"Not Found"}', [("x-amzn-ErrorType", "ResourceNotFoundException")], close=not keep)


def _bad_request(exc: BadRequest) -> bytes:
    """The answer to a request that is not HTTP as RFC 9112 allows (the connection then closes)."""
    return response(exc.status, json.dumps({"message": str(exc)}).encode(), close=True)
