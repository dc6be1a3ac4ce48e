"""Sending a command to a running `lambdactl serve` instead of running it in this process.

`RemoteService.call(op, request)` has the same contract as `Service.call`: it serialises the
request and reads the answer with `lambdactl.protocol.rest_json`, the tables the server decodes
and encodes with (standard library only, imported when a server is actually used). Against `lambdactl serve --require-auth` it signs with
SigV4 (hmac and hashlib are imported only then): from the first request when server.json says the
server demands it, else after the server answers MissingAuthenticationTokenException.
"""

from __future__ import annotations

from ..errors import LambdaError

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing and urllib cost a cold CLI start ~5 ms; only a server's user needs them
    from typing import Any


class ReadTimeout(Exception):
    """No answer within --cli-read-timeout (the AWS CLI's words; exit 255, nothing retried)."""


class ServerUnavailable(Exception):
    """No server answered; the caller falls back to running the command itself."""


class RemoteService:
    def __init__(self, url: str, timeout_s: float | None = 960.0, *, credentials: tuple[str, str, str] | None = None,
                 sign: bool = False, connect_timeout_s: float | None = 960.0) -> None:
        """`credentials` is (access key, secret, region) to sign with when the server demands it.
        `timeout_s` bounds each read and `connect_timeout_s` the connection (None: no limit, as
        the AWS CLI's 0)."""
        from urllib.parse import urlsplit

        parts = urlsplit(url)
        self.host = parts.hostname or "127.0.0.1"
        self.port = parts.port or 80
        self.timeout_s = timeout_s
        self.connect_timeout_s = connect_timeout_s
        self.credentials = credentials
        self.sign = sign and credentials is not None
        self._conn: Any = None

    def _connection(self) -> Any:
        if self._conn is None:
            import socket

            sock = socket.create_connection((self.host, self.port), timeout=self.connect_timeout_s)
            sock.settimeout(self.timeout_s)
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self._conn = sock
        return self._conn

    def call(self, op_name: str, request: dict[str, Any] | None = None) -> dict[str, Any]:
        from ..protocol.rest_json import decode_response, encode_request

        method, target, headers, body = encode_request(op_name, request or {})
        resp = self._send(method, target, body, headers)
        if (resp.status == 403 and not self.sign and self.credentials is not None
                and (resp.getheader("x-amzn-ErrorType") or "").startswith("MissingAuthenticationToken")):
            self.sign = True
            resp = self._send(method, target, body, headers)
        return decode_response(op_name, resp.status, resp.headers, resp.body)

    def _send(self, method: str, target: str, body: bytes, headers: dict[str, str]) -> Any:
        from ..httpwire import BadRequest, client_request

        host = f"{self.host}:{self.port}"
        if self.sign and self.credentials is not None:
            from ..sigv4 import sign

            headers = dict(headers)
            sign(method, host, target, headers, body, *self.credentials)
        try:
            conn = self._connection()
        except ConnectionRefusedError as exc:
            raise ServerUnavailable(str(exc)) from exc
        except TimeoutError as exc:
            raise ServerUnavailable(f'Connect timeout on endpoint URL: "http://{host}{target.split("?", 1)[0]}"') from exc
        except OSError as exc:
            raise LambdaError("ServiceException", f"The lambdactl server at {host} failed: {exc}", 500) from exc
        try:
            return client_request(conn, method, target, host, body, headers)
        except ConnectionRefusedError as exc:
            raise ServerUnavailable(str(exc)) from exc
        except TimeoutError as exc:
            self.close()
            raise ReadTimeout(f'Read timeout on endpoint URL: "http://{host}{target.split("?", 1)[0]}"') from exc
        except (OSError, BadRequest) as exc:
            self.close()
            raise LambdaError("ServiceException", f"The lambdactl server at {host} failed: {exc}", 500) from exc

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
