"""A small, strict HTTP/1.1 wire layer (RFC 9112): request heads parsed in one linear pass,
Content-Length and chunked bodies read under a size cap and a deadline, response framing, and the
CLI's client side, on plain sockets.

Why not `http.server`: it parses headers with email.parser and builds a handler object per
request, several hundred microseconds each; the Lambda endpoint's warm-invoke budget is one
millisecond end to end. Why strict: a lenient parser behind or in front of another one is how
requests are smuggled (Content-Length against Transfer-Encoding, bare LFs, obs-folds), and a slow
or oversized head must not cost the server more than its limits. Knows nothing of Lambda.
"""

from __future__ import annotations

import re
import select
import socket
from time import monotonic

MAX_HEAD_BYTES = 16 * 1024  # request line and headers, as most servers allow (431 beyond)
MAX_HEADERS = 100  # header lines (431 beyond)
MAX_CHUNK_LINE_BYTES = 4096  # a chunk-size line with its extensions
MIN_BODY_BYTES_PER_S = 1 << 20  # after the body timeout's grace, a body must keep this pace

_TCHAR = rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]"


class _Patterns:
    """The grammar's regular expressions, compiled at first use: the CLI imports this module for
    its client side, and compiling them would add milliseconds to every command's start-up."""

    def __init__(self) -> None:
        self.token = re.compile(_TCHAR + rb"+")
        # Header lines: each a token, the colon right after it (no whitespace before it), and a
        # value of visible characters, spaces and tabs: no CR, LF, NUL or other controls (obs-fold
        # lines begin with whitespace and so are no token; a bare CR or LF fails the value class).
        self.fields = re.compile(rb"(?:" + _TCHAR + rb"+:[^\x00-\x08\x0a-\x1f\x7f]*\r\n)*")
        self.request_line = re.compile(rb"(" + _TCHAR + rb"+) ([\x21-\x7e]+) HTTP/(1\.[01])")
        self.chunk_line = re.compile(rb"([0-9A-Fa-f]{1,16})(?:[ \t]*;[^\x00-\x08\x0a-\x1f\x7f]*)?")
        # What a response header value may not hold: controls, or characters beyond Latin-1 (the
        # wire's octets; anything else cannot be framed).
        self.bad_value = re.compile(r"[^\t\x20-\x7e\x80-\xff]")


_compiled: _Patterns | None = None


def _rx() -> _Patterns:
    global _compiled
    if _compiled is None:
        _compiled = _Patterns()
    return _compiled


class BadRequest(Exception):
    """The peer sent something RFC 9112 does not allow, too much, or too slowly; the server answers
    with `status` (400, 408, 413, 431) and closes the connection."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class TooLarge(BadRequest):
    """A body over the operation's cap; refused before (or as soon as) it exceeds the cap."""

    def __init__(self, limit: int) -> None:
        super().__init__(f"request body over {limit} bytes", 413)
        self.limit = limit


def reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


def valid_header(name: str, value: str) -> bool:
    """Whether a header may be sent as is: a token name and a value of Latin-1 without CR, LF, NUL
    or other controls (a function's response headers are checked with this before they are framed)."""
    rx = _rx()
    return rx.token.fullmatch(name.encode("latin-1", "replace")) is not None and rx.bad_value.search(value) is None


class Conn:
    """Buffered reads of HTTP/1.1 messages from one keep-alive socket.

    `deadline` (a `time.monotonic()` value, or None) bounds the reads in progress: it is checked
    before every receive; a blocking socket waits at most until it, a socket with a timeout (or
    SO_RCVTIMEO) at most that timeout, so a peer that dribbles bytes is cut off soon after.
    """

    __slots__ = ("sock", "buf", "deadline", "body_timeout_s", "rcvtimeo", "poller")

    def __init__(self, sock: socket.socket, body_timeout_s: float | None = None, *, rcvtimeo: bool = False) -> None:
        """`rcvtimeo`: the blocking socket has SO_RCVTIMEO set, which bounds each receive."""
        self.sock = sock
        self.buf = bytearray()
        self.deadline: float | None = None
        self.body_timeout_s = body_timeout_s
        self.rcvtimeo = rcvtimeo
        self.poller: select.poll | None = None

    def _fill(self) -> bool:
        if self.deadline is not None:
            left = self.deadline - monotonic()
            if left <= 0:
                raise BadRequest("timed out reading the request", 408)
            if not self.rcvtimeo and self.sock.gettimeout() is None:
                # A blocking socket waits at most until the deadline: poll, rather than switch the
                # socket to a timeout and back (four system calls).
                if self.poller is None:
                    self.poller = select.poll()
                    self.poller.register(self.sock.fileno(), select.POLLIN)
                if not self.poller.poll(left * 1000 + 1):
                    raise BadRequest("timed out reading the request", 408)
        try:
            data = self.sock.recv(262144)
        except (TimeoutError, BlockingIOError):  # BlockingIOError: SO_RCVTIMEO expired
            if self.deadline is None:
                raise  # the socket's own timeout (a client waiting for its answer)
            raise BadRequest("timed out reading the request", 408) from None
        if not data:
            return False
        self.buf += data
        return True

    def has_head(self) -> bool:
        """Whether a whole head (after any empty lines a client may send between requests) is
        buffered."""
        return self.buf.find(b"\r\n\r\n", 0, MAX_HEAD_BYTES + 8) >= 0 or len(self.buf) > MAX_HEAD_BYTES + 4

    def take_head(self, max_bytes: int = MAX_HEAD_BYTES) -> bytes | None:
        """The buffered head without its final CRLFCRLF, or None when none is complete yet.
        Raises BadRequest (431) when the buffer holds more than `max_bytes` without one."""
        start = 0
        while self.buf.startswith(b"\r\n", start):  # RFC 9112 2.2: ignore CRLFs before a request
            start += 2
        i = self.buf.find(b"\r\n\r\n", start, start + max_bytes + 4)
        if i < 0:
            if len(self.buf) - start > max_bytes:
                raise BadRequest("request head too large", 431)
            if start:
                del self.buf[:start]
            return None
        head = bytes(self.buf[start:i])
        del self.buf[: i + 4]
        return head

    def read_head(self, timeout_s: float | None = None, max_bytes: int = MAX_HEAD_BYTES) -> bytes | None:
        """The next head, or None when the peer closed between requests. Waits for the first byte
        as long as the socket allows; once one has arrived, the rest must follow within
        `timeout_s` (None: no limit)."""
        started = bool(self.buf.strip(b"\r\n"))
        deadline = None if timeout_s is None or not started else monotonic() + timeout_s
        while True:
            head = self.take_head(max_bytes)
            if head is not None:
                return head
            self.deadline = deadline
            try:
                filled = self._fill()
            finally:
                self.deadline = None
            if not filled:
                if self.buf.strip(b"\r\n"):
                    raise BadRequest("connection closed mid-head")
                return None
            if deadline is None and timeout_s is not None and self.buf.strip(b"\r\n"):
                deadline = monotonic() + timeout_s

    def _start_body(self, n: int) -> None:
        if self.deadline is None and self.body_timeout_s is not None:
            self.deadline = monotonic() + self.body_timeout_s + n / MIN_BODY_BYTES_PER_S

    def read_line(self, limit: int = MAX_CHUNK_LINE_BYTES) -> bytes:
        """A CRLF-ended line (chunk size or trailer); a bare LF is refused at once, not waited past."""
        while True:
            i = self.buf.find(b"\n", 0, limit + 2)
            if i >= 0:
                if not i or self.buf[i - 1] != 0x0D:
                    raise BadRequest("chunk line not ended by CRLF")
                line = bytes(self.buf[: i - 1])
                del self.buf[: i + 1]
                return line
            if len(self.buf) > limit:
                raise BadRequest("chunk line too long")
            if not self._fill():
                raise BadRequest("connection closed mid-body")

    def read_body(self, n: int, limit: int) -> tuple[bytes, bool]:
        """Read n bytes; keep at most `limit` of them. Returns (kept, truncated)."""
        if n <= len(self.buf) and n <= limit:
            body = bytes(self.buf[:n])
            del self.buf[:n]
            return body, False
        self._start_body(n)
        kept = bytearray()
        remaining = n
        while remaining > 0:
            if not self.buf and not self._fill():
                raise BadRequest("connection closed mid-body")
            take = min(remaining, len(self.buf))
            if len(kept) < limit:
                kept += self.buf[: min(take, limit - len(kept))]
            del self.buf[:take]
            remaining -= take
        return bytes(kept), n > limit

    def read_chunked(self, limit: int, *, refuse_over: bool = False) -> tuple[bytes, bool]:
        """A chunked body, keeping at most `limit` bytes; with `refuse_over`, TooLarge as soon as
        the chunks add up to more (the rest is never read)."""
        kept = bytearray()
        total = 0
        self._start_body(limit if refuse_over else 0)
        while True:
            line = self.read_line()
            m = _rx().chunk_line.fullmatch(line)
            if m is None:
                raise BadRequest("bad chunk size")
            size = int(m.group(1), 16)
            if size == 0:
                trailers = 0
                while line := self.read_line(MAX_HEAD_BYTES):
                    trailers += 1
                    if trailers > MAX_HEADERS or _rx().fields.fullmatch(line + b"\r\n") is None:
                        raise BadRequest("bad trailer fields")
                return bytes(kept), total > limit
            total += size
            if refuse_over and total > limit:
                raise TooLarge(limit)
            part, _ = self.read_body(size, max(0, limit - len(kept)))
            kept += part
            if self.read_line(2) != b"":
                raise BadRequest("bad chunk terminator")


class Request:
    """One parsed request head (header names lower-cased) and its body."""

    __slots__ = ("method", "target", "version", "headers", "body", "truncated", "peer", "ctx")

    def __init__(self, method: str, target: str, version: str, headers: dict[str, str]) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = b""
        self.truncated = False
        self.peer: tuple[str, int] | None = None
        self.ctx: object = None  # what the server decided before reading the body

    @property
    def keep_alive(self) -> bool:
        conn = self.headers.get("connection", "").lower()
        return conn != "close" and (self.version != "HTTP/1.0" or conn == "keep-alive")


def parse_fields(block: bytes) -> dict[str, str]:
    """Header lines (CRLF-separated) to a dict of lower-cased names; repeated fields joined with
    commas in one linear pass (Host repeated is refused, Content-Length repeated must repeat one
    value). The whole block is checked by one regular expression first: cheaper than one per line."""
    if not block:
        return {}
    block += b"\r\n"
    if block.count(b"\n") > MAX_HEADERS:
        raise BadRequest("too many header fields", 431)
    if _rx().fields.fullmatch(block) is None:
        raise BadRequest("malformed header field")
    headers: dict[str, str] = {}
    repeated: dict[str, list[str]] | None = None
    for line in block.decode("latin-1").split("\r\n")[:-1]:
        name, _, value = line.partition(":")
        name = name.lower()
        value = value.strip(" \t")
        if name in headers:
            if repeated is None:
                repeated = {}
            if name not in repeated:
                repeated[name] = [headers[name]]
            repeated[name].append(value)
        else:
            headers[name] = value
    if repeated:
        if "host" in repeated:
            raise BadRequest("more than one Host header")
        for name, values in repeated.items():
            headers[name] = ",".join(values)
    return headers


def parse_head(head: bytes, max_bytes: int = MAX_HEAD_BYTES) -> Request:
    if len(head) > max_bytes:
        raise BadRequest("request head too large", 431)
    first, _, block = head.partition(b"\r\n")
    m = _rx().request_line.fullmatch(first)
    if m is None:
        raise BadRequest("bad request line")
    method, target, version = m.groups()
    req = Request(method.decode("ascii"), target.decode("ascii"), "HTTP/" + version.decode("ascii"), parse_fields(block))
    if req.version == "HTTP/1.1" and "host" not in req.headers:
        raise BadRequest("HTTP/1.1 requests need a Host header")
    return req


def body_length(req: Request) -> int | None:
    """The body's length by RFC 9112 section 6: Content-Length, or None for chunked. Anything a
    second parser could read differently is refused (400)."""
    te = req.headers.get("transfer-encoding")
    cl = req.headers.get("content-length")
    if te is None and cl is not None and cl.isdigit() and cl.isascii() and len(cl) <= 18:
        return int(cl)  # the common case, plain decimal
    if te is not None:
        if cl is not None:
            raise BadRequest("both Content-Length and Transfer-Encoding")
        if req.version == "HTTP/1.0":
            raise BadRequest("Transfer-Encoding in an HTTP/1.0 request")
        codings = [c.strip().lower() for c in te.split(",")]
        if codings[-1] != "chunked":
            raise BadRequest("the last transfer coding is not chunked")
        if len(codings) > 1:
            raise BadRequest("transfer codings other than chunked are not supported")
        return None
    if cl is None:
        return 0
    values = {v.strip() for v in cl.split(",")}
    value = values.pop()
    if values or not value.isascii() or not value.isdigit() or len(value) > 18:
        raise BadRequest("bad Content-Length")
    return int(value)


def read_request(conn: Conn, body_limit: int, head_timeout_s: float | None = None,
                 max_head_bytes: int = MAX_HEAD_BYTES) -> Request | None:
    """The next request on `conn` with its body (at most `body_limit` bytes kept, the rest read
    and dropped, `truncated` set), or None when the peer closed between requests."""
    head = conn.read_head(head_timeout_s, max_head_bytes)
    if head is None:
        return None
    req = parse_head(head, max_head_bytes)
    n = body_length(req)
    if req.headers.get("expect", "").lower() == "100-continue":
        conn.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    if n is None:
        req.body, req.truncated = conn.read_chunked(body_limit)
    else:
        req.body, req.truncated = conn.read_body(n, body_limit)
    conn.deadline = None
    return req


def read_body_capped(conn: Conn, req: Request, limit: int) -> bytes:
    """The request's body, or TooLarge (nothing more read) when it is longer than `limit`."""
    n = body_length(req)
    if n is not None and n > limit:
        raise TooLarge(limit)
    if n is not None and n <= len(conn.buf):
        body = bytes(conn.buf[:n])
        del conn.buf[:n]
        return body
    if req.headers.get("expect", "").lower() == "100-continue":
        conn.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    try:
        if n is None:
            return conn.read_chunked(limit, refuse_over=True)[0]
        return conn.read_body(n, n)[0]
    finally:
        conn.deadline = None


def response(status: int, body: bytes, headers: list[tuple[str, str]] | None = None, *, close: bool = False) -> bytes:
    """One framed answer. A 1xx, 204 or 304 answer has no body and no Content-Length (RFC 9110
    8.6, RFC 9112 6.3): a client reads none, so bytes sent after such a head would be taken for
    the next answer."""
    framed = status >= 200 and status != 204 and status != 304
    if not framed:
        body = b""
    lines = [f"HTTP/1.1 {status} {reason(status)}"]
    has_type = False
    for k, v in headers or ():
        lines.append(f"{k}: {v}")
        has_type = has_type or k.lower() == "content-type"
    if not has_type and body:
        lines.append("Content-Type: application/json")
    if framed:
        lines.append(f"Content-Length: {len(body)}")
    if close:
        lines.append("Connection: close")
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body


class ClientResponse:
    __slots__ = ("status", "headers", "body")

    def __init__(self, status: int, headers: dict[str, str], body: bytes) -> None:
        self.status = status
        self.headers = headers
        self.body = body

    def getheader(self, name: str) -> str | None:
        return self.headers.get(name.lower())


def client_request(
    sock: socket.socket, method: str, target: str, host: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> ClientResponse:
    """One request on a connected socket, answered by a Content-Length or chunked response.

    The CLI's path to a running server: `http.client` costs ~15 ms to import (email.parser),
    more than a warm invocation through the server.
    """
    lines = [f"{method} {target} HTTP/1.1", f"Host: {host}", f"Content-Length: {len(body)}"]
    lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
    sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
    conn = Conn(sock)
    head = conn.read_head()
    if head is None:
        raise ConnectionResetError("the server closed the connection without answering")
    first, _, rest = head.partition(b"\r\n")
    try:
        status = int(first.split(b" ", 2)[1])
    except (IndexError, ValueError) as e:
        raise BadRequest(f"bad status line {first!r}") from e
    parsed: dict[str, str] = {}  # our own server's answer: read, not judged (no patterns compiled)
    for line in rest.decode("latin-1").split("\r\n") if rest else ():
        name, _, value = line.partition(":")
        name, value = name.strip().lower(), value.strip()
        parsed[name] = f"{parsed[name]},{value}" if name in parsed else value
    if parsed.get("transfer-encoding", "").lower() == "chunked":
        data, _ = conn.read_chunked(1 << 62)
    else:
        data, _ = conn.read_body(int(parsed.get("content-length", "0")), 1 << 62)
    return ClientResponse(status, parsed, data)
