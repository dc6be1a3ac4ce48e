"""A small HTTP/1.1 wire layer: buffered request reading (keep-alive, Content-Length, chunked,
`Expect: 100-continue`) and response framing, on plain sockets.

Why not `http.server`: it parses headers with email.parser and builds a handler object per
request, several hundred microseconds each; the Lambda endpoint's warm-invoke budget is one
millisecond end to end. Knows nothing of Lambda.
"""

from __future__ import annotations

import socket

MAX_HEAD_BYTES = 2 * 1024 * 1024


class BadRequest(Exception):
    """The peer sent something that is not HTTP/1.1; the connection is closed."""


def reason(status: int) -> str:
    from http import HTTPStatus

    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


class Conn:
    """Buffered reads of HTTP/1.1 requests from one keep-alive socket."""

    __slots__ = ("sock", "buf")

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = bytearray()

    def _fill(self) -> bool:
        data = self.sock.recv(262144)
        if not data:
            return False
        self.buf += data
        return True

    def read_head(self) -> bytes | None:
        """The request line and headers, or None when the peer closed between requests."""
        start = 0
        while True:
            i = self.buf.find(b"\r\n\r\n", start)
            if i >= 0:
                head = bytes(self.buf[:i])
                del self.buf[: i + 4]
                return head
            if len(self.buf) > MAX_HEAD_BYTES:
                raise BadRequest("request head too large")
            start = max(0, len(self.buf) - 3)
            if not self._fill():
                if self.buf.strip():
                    raise BadRequest("connection closed mid-head")
                return None

    def read_line(self) -> bytes:
        while True:
            i = self.buf.find(b"\r\n")
            if i >= 0:
                line = bytes(self.buf[:i])
                del self.buf[: i + 2]
                return line
            if len(self.buf) > 65536 or not self._fill():
                raise BadRequest("bad chunk line")

    def read_body(self, n: int, limit: int) -> tuple[bytes, bool]:
        """Read n bytes; keep at most `limit` of them. Returns (kept, truncated)."""
        if n <= len(self.buf) and n <= limit:
            body = bytes(self.buf[:n])
            del self.buf[:n]
            return body, False
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

    def read_chunked(self, limit: int) -> tuple[bytes, bool]:
        kept = bytearray()
        truncated = False
        while True:
            line = self.read_line()
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError as e:
                raise BadRequest("bad chunk size") from e
            if size == 0:
                while self.read_line():  # trailers, up to the empty line
                    pass
                return bytes(kept), truncated
            part, _ = self.read_body(size, max(0, limit - len(kept)))
            kept += part
            truncated = truncated or len(kept) + (size - len(part)) > limit
            if self.read_line() != b"":
                raise BadRequest("bad chunk terminator")


class Request:
    """One parsed request head (header names lower-cased) and its body."""

    __slots__ = ("method", "target", "version", "headers", "body", "truncated", "peer")

    def __init__(self, method: str, target: str, version: str, headers: dict[str, str]) -> None:
        self.method = method
        self.target = target
        self.version = version
        self.headers = headers
        self.body = b""
        self.truncated = False
        self.peer: tuple[str, int] | None = None

    @property
    def keep_alive(self) -> bool:
        conn = self.headers.get("connection", "").lower()
        return conn != "close" and (self.version != "HTTP/1.0" or conn == "keep-alive")


def parse_head(head: bytes) -> Request:
    lines = head.split(b"\r\n")
    try:
        method, target, version = lines[0].decode("latin-1").split(" ", 2)
    except ValueError as e:
        raise BadRequest("bad request line") from e
    headers: dict[str, str] = {}
    for line in lines[1:]:
        k, sep, v = line.partition(b":")
        if sep:
            name = k.strip().lower().decode("latin-1")
            value = v.strip().decode("latin-1")
            headers[name] = f"{headers[name]},{value}" if name in headers else value
    return Request(method, target, version, headers)


def read_request(conn: Conn, body_limit: int) -> Request | None:
    """The next request on `conn` with its body (at most `body_limit` bytes kept), or None."""
    head = conn.read_head()
    if head is None:
        return None
    req = parse_head(head)
    if req.headers.get("expect", "").lower() == "100-continue":
        conn.sock.sendall(b"HTTP/1.1 100 Continue\r\n\r\n")
    if req.headers.get("transfer-encoding", "").lower() == "chunked":
        req.body, req.truncated = conn.read_chunked(body_limit)
    else:
        try:
            n = int(req.headers.get("content-length", "0"))
        except ValueError as e:
            raise BadRequest("bad content-length") from e
        req.body, req.truncated = conn.read_body(n, body_limit)
    return req


def response(status: int, body: bytes, headers: list[tuple[str, str]] | None = None, *, close: bool = False) -> bytes:
    lines = [f"HTTP/1.1 {status} {reason(status)}"]
    has_type = False
    for k, v in headers or ():
        lines.append(f"{k}: {v}")
        has_type = has_type or k.lower() == "content-type"
    if not has_type and body:
        lines.append("Content-Type: application/json")
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
    parsed = parse_head(b"X / HTTP/1.1\r\n" + rest).headers
    if parsed.get("transfer-encoding", "").lower() == "chunked":
        data, _ = conn.read_chunked(1 << 62)
    else:
        data, _ = conn.read_body(int(parsed.get("content-length", "0")), 1 << 62)
    return ClientResponse(status, parsed, data)
