"""Routing and translation of the Lambda REST API, generated from the API model.

A request's path, query string, headers and JSON body become the operation's request dict by each
member's location in the model; the result dict becomes headers, status and body the same way.
"""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import parse_qs, unquote

from .._jsontext import dumps_ascii, loads
from ..api_model import operation
from ..errors import LambdaError
from ..limits import MAX_CREATE_BODY_BYTES, MAX_REQUEST_BODY_BYTES, MAX_SYNC_PAYLOAD_BYTES

try:
    from orjson import dumps as _dumps

    def dumps(obj: Any) -> bytes:
        try:
            return _dumps(obj)
        except TypeError:
            # A lone surrogate stored before such strings were refused, an integer beyond 64
            # bits: escaped rather than a 500 (which would follow a committed write).
            return dumps_ascii(obj)
except ModuleNotFoundError:  # pragma: no cover
    dumps = dumps_ascii


# Request body caps: code and layers travel base64 in a JSON body; an invoke carries its payload.
UPLOAD_OPERATIONS = frozenset({"CreateFunction", "UpdateFunctionCode", "PublishLayerVersion"})
PAYLOAD_OPERATIONS = frozenset({"Invoke", "InvokeWithResponseStream", "InvokeAsync"})


def body_cap(op: str) -> int:
    """The largest request body operation `op` accepts (Lambda's 413 beyond)."""
    if op in UPLOAD_OPERATIONS:
        return MAX_CREATE_BODY_BYTES
    if op in PAYLOAD_OPERATIONS:
        return MAX_SYNC_PAYLOAD_BYTES
    return MAX_REQUEST_BODY_BYTES


class Route:
    __slots__ = ("op", "method", "parts", "fixed_query", "status", "model")

    def __init__(self, op: str, model: dict[str, Any]) -> None:
        self.op = op
        self.model = model
        self.method = model["method"]
        path, _, query = model["uri"].partition("?")
        self.parts: list[tuple[bool, str]] = [
            (p.startswith("{"), p.strip("{}+")) for p in path.strip("/").split("/")
        ]
        self.fixed_query = {k: v[0] for k, v in parse_qs(query).items()}
        self.status = int(model["status"])

    def match(self, segments: list[str], query: dict[str, list[str]]) -> dict[str, str] | None:
        if len(segments) != len(self.parts):
            return None
        params: dict[str, str] = {}
        for seg, (is_param, name) in zip(segments, self.parts, strict=True):
            if is_param:
                if not seg:
                    return None
                params[name] = unquote(seg)
            elif seg != name:
                return None
        for k, v in self.fixed_query.items():
            if query.get(k, [None])[0] != v:
                return None
        return params


class Router:
    def __init__(self, operations: list[str]) -> None:
        routes = [Route(op, operation(op)) for op in operations]
        # Routes with a fixed query (GetLayerVersionByArn) are tried before their bare twins.
        routes.sort(key=lambda r: (not r.fixed_query,))
        self.by_method: dict[str, list[Route]] = {}
        for r in routes:
            self.by_method.setdefault(r.method, []).append(r)

    def match(self, method: str, path: str, query: dict[str, list[str]]) -> tuple[Route, dict[str, str]] | None:
        segments = path.strip("/").split("/")
        for route in self.by_method.get(method, ()):
            params = route.match(segments, query)
            if params is not None:
                return route, params
        return None


def _decode_blobs(value: Any, type_: Any) -> Any:
    """Blob members inside a JSON body travel as base64 text."""
    if type_ == "blob" and isinstance(value, str):
        try:
            return base64.b64decode(value, validate=True)
        except ValueError:
            raise LambdaError("InvalidParameterValueException", "Could not unzip uploaded file. Please check your file, then try to upload again.") from None
    if isinstance(type_, dict) and "structure" in type_ and isinstance(value, dict):
        members = type_["structure"]
        return {k: _decode_blobs(v, members.get(k)) for k, v in value.items()}
    return value


def _query_value(values: list[str], type_: Any) -> Any:
    if isinstance(type_, dict) and "list" in type_:
        return values
    value = values[-1]
    if type_ in ("integer", "long"):
        try:
            return int(value)
        except ValueError:
            return value
    if type_ == "boolean":
        return value.lower() == "true"
    return value


def build_request(route: Route, params: dict[str, str], query: dict[str, list[str]], headers: dict[str, str], body: bytes) -> dict[str, Any]:
    members = route.model["input"]
    request: dict[str, Any] = {}
    payload_member = None
    for name, meta in members.items():
        loc = meta["location"]
        if loc == "uri":
            if meta["location_name"] in params:
                request[name] = params[meta["location_name"]]
        elif loc == "querystring":
            values = query.get(meta["location_name"])
            if values:
                request[name] = _query_value(values, meta["type"])
        elif loc == "header":
            value = headers.get(meta["location_name"].lower())
            if value is not None:
                request[name] = value
        elif loc == "payload":
            payload_member = name
    if payload_member is not None:
        request[payload_member] = body
    elif body.strip():
        try:
            doc = loads(body)
        except ValueError as exc:
            raise LambdaError("InvalidRequestContentException", f"Could not parse request body into json: {exc}") from None
        if not isinstance(doc, dict):
            raise LambdaError("InvalidRequestContentException", "Could not parse request body into json: not an object")
        from ..models import LOCAL_MEMBERS

        local = LOCAL_MEMBERS.get(route.op, ())
        for key, value in doc.items():
            meta = members.get(key)
            if meta is None and key in local:
                request[key] = value
                continue
            if meta is None or meta["location"] != "body":
                continue  # unknown members are ignored, as AWS ignores them
            request[key] = _decode_blobs(value, meta["type"])
    return request


def build_response(route: Route, result: dict[str, Any]) -> tuple[int, list[tuple[str, str]], bytes]:
    outputs = route.model["output"]
    status = route.status
    headers: list[tuple[str, str]] = []
    body_doc: dict[str, Any] = {}
    raw: bytes | None = None
    for key, value in result.items():
        meta = outputs.get(key)
        loc = meta["location"] if meta else "body"
        if loc == "header":
            headers.append((meta["location_name"], str(value)))  # type: ignore[index]
        elif loc == "statusCode":
            status = int(value)
        elif loc == "payload":
            raw = value if isinstance(value, (bytes, bytearray)) else dumps(value)
        else:
            body_doc[key] = value
    if raw is not None:
        return status, headers, bytes(raw)
    if status == 204 or (not body_doc and route.method == "DELETE"):
        return status, headers, b""
    return status, headers, dumps(body_doc)


def error_response(exc: LambdaError) -> tuple[int, list[tuple[str, str]], bytes]:
    headers = [("x-amzn-ErrorType", exc.code)]
    if exc.code == "TooManyRequestsException":
        headers.append(("Retry-After", "1"))
    body = exc.body()
    if exc.code in ("ResourceNotFoundException", "ResourceInUseException", "ServiceException"):
        body["Message"] = body.pop("message")
    return exc.status, headers, dumps(body)


def parse_target(target: str) -> tuple[str, dict[str, list[str]]]:
    path, _, qs = target.partition("?")
    return path, parse_qs(qs, keep_blank_values=True) if qs else {}
