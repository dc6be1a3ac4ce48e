"""Sending a command to a running `lambdactl serve` instead of running it in this process.

`RemoteService.call(op, request)` has the same contract as `Service.call`: it serialises the
request the way botocore would (path, query, headers and JSON body by the model's member
locations) and turns the answer back into the result dict or a `LambdaError`. Only stdlib modules,
imported when a server is actually used. Against `lambdactl serve --require-auth` it signs with
SigV4 (hmac and hashlib are imported only then): from the first request when server.json says the
server demands it, else after the server answers MissingAuthenticationTokenException.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import quote, urlsplit

from ..api_model import operation
from ..errors import LambdaError


class ReadTimeout(Exception):
    """No answer within --cli-read-timeout (the AWS CLI's words; exit 255, nothing retried)."""


class ServerUnavailable(Exception):
    """No server answered; the caller falls back to running the command itself."""


def _encode_blobs(value: Any, type_: Any) -> Any:
    if type_ == "blob" and isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(type_, dict) and "structure" in type_ and isinstance(value, dict):
        members = type_["structure"]
        return {k: _encode_blobs(v, members.get(k)) for k, v in value.items()}
    return value


class RemoteService:
    def __init__(self, url: str, timeout_s: float | None = 960.0, *, credentials: tuple[str, str, str] | None = None,
                 sign: bool = False, connect_timeout_s: float | None = 960.0) -> None:
        """`credentials` is (access key, secret, region) to sign with when the server demands it.
        `timeout_s` bounds each read and `connect_timeout_s` the connection (None: no limit, as
        the AWS CLI's 0)."""
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
        model = operation(op_name)
        request = request or {}
        path_template, _, fixed_query = model["uri"].partition("?")
        path = path_template
        query: list[tuple[str, str]] = []
        headers: dict[str, str] = {}
        body_doc: dict[str, Any] = {}
        payload: bytes | None = None
        from ..models import LOCAL_MEMBERS

        local = LOCAL_MEMBERS.get(op_name, ())
        for name, value in request.items():
            meta = model["input"].get(name)
            if meta is None:
                if name in local:
                    body_doc[name] = value
                continue
            loc, loc_name = meta["location"], meta["location_name"]
            if loc == "uri":
                path = path.replace("{" + loc_name + "}", quote(str(value), safe=""))
            elif loc == "querystring":
                for item in value if isinstance(value, list) else [value]:
                    query.append((loc_name, str(item).lower() if isinstance(item, bool) else str(item)))
            elif loc == "header":
                headers[loc_name] = str(value)
            elif loc == "payload":
                payload = value if isinstance(value, (bytes, bytearray)) else json.dumps(value).encode()
            else:
                body_doc[name] = _encode_blobs(value, meta["type"])
        target = path
        qs = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query)
        if fixed_query or qs:
            target += "?" + "&".join(p for p in (fixed_query, qs) if p)
        body = payload if payload is not None else (json.dumps(body_doc).encode() if body_doc or model["method"] in ("POST", "PUT") else b"")
        if body and "Content-Type" not in headers:
            headers["Content-Type"] = "application/json"
        resp = self._send(model["method"], target, body, headers)
        if (resp.status == 403 and not self.sign and self.credentials is not None
                and (resp.getheader("x-amzn-ErrorType") or "").startswith("MissingAuthenticationToken")):
            self.sign = True
            resp = self._send(model["method"], target, body, headers)
        data = resp.body
        if resp.status >= 300:
            code = (resp.getheader("x-amzn-ErrorType") or "ServiceException").split(":", 1)[0]
            try:
                doc = json.loads(data) if data else {}
            except ValueError:
                doc = {}
            message = doc.pop("message", None) or doc.pop("Message", None) or data.decode("utf-8", "replace")
            doc.pop("Type", None)
            raise LambdaError(code, message, resp.status, **doc)
        result: dict[str, Any] = {}
        raw_payload = None
        for name, meta in model["output"].items():
            loc = meta["location"]
            if loc == "header":
                value = resp.getheader(meta["location_name"])
                if value is not None:
                    result[name] = int(value) if meta["type"] == "integer" else value
            elif loc == "statusCode":
                result[name] = resp.status
            elif loc == "payload":
                raw_payload = name
        if raw_payload is not None:
            result[raw_payload] = data
            return {k: result[k] for k in ("StatusCode", "FunctionError", "LogResult", "ExecutedVersion", raw_payload) if k in result} if op_name == "Invoke" else result
        if data:
            doc = json.loads(data)
            doc.update(result)
            return doc
        return result

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
