"""The rest-json protocol (Lambda's), generated from the API model, for both ends of a connection.

A member's location in the model says where it travels: `uri` (a path segment), `querystring`,
`header`, `payload` (the raw body) or `body` (a member of the JSON body, blobs as base64);
`statusCode` in an output is the response's status. The server decodes requests and encodes
results with the same tables the CLI encodes requests and decodes results with; a test checks
both against botocore's own serializer and parser for every implemented operation.

Standard library only on the client side (the CLI imports this when a server is running); orjson
is loaded on the server's first encoding.
"""

from __future__ import annotations

import base64
import json
from typing import Any
from urllib.parse import parse_qs, quote, unquote

from ..api_model import operation
from ..errors import LambdaError
from ..limits import MAX_CREATE_BODY_BYTES, MAX_REQUEST_BODY_BYTES, MAX_SYNC_PAYLOAD_BYTES
from ..models import LOCAL_MEMBERS

Headers = list[tuple[str, str]]

# Request body caps: code and layers travel base64 in a JSON body; an invoke carries its payload.
UPLOAD_OPERATIONS = frozenset({"CreateFunction", "UpdateFunctionCode", "PublishLayerVersion"})
PAYLOAD_OPERATIONS = frozenset({"Invoke", "InvokeWithResponseStream", "InvokeAsync"})
# Errors whose JSON body says `Message` rather than `message` on AWS (botocore reads either).
CAPITAL_MESSAGE = frozenset({"ResourceNotFoundException", "ResourceInUseException", "ServiceException"})


def body_cap(op: str) -> int:
    """The largest request body operation `op` accepts (Lambda's 413 beyond)."""
    if op in UPLOAD_OPERATIONS:
        return MAX_CREATE_BODY_BYTES
    if op in PAYLOAD_OPERATIONS:
        return MAX_SYNC_PAYLOAD_BYTES
    return MAX_REQUEST_BODY_BYTES


def too_large(op: str, limit: int) -> LambdaError:
    """Lambda's words for a body over `limit`: an invoke's payload is RequestTooLarge, any other
    body RequestEntityTooLarge."""
    code = "RequestTooLargeException" if op in PAYLOAD_OPERATIONS else "RequestEntityTooLargeException"
    return LambdaError(code, f"Request must be smaller than {limit} bytes for the {'InvokeFunction' if op == 'Invoke' else op} operation", 413)


_dumps: Any = None


def dumps(obj: Any) -> bytes:
    """Compact JSON (orjson when installed); a value orjson refuses (a lone surrogate stored
    before such strings were refused, an integer beyond 64 bits) is escaped instead of a 500
    that would follow a committed write."""
    global _dumps
    if _dumps is None:
        try:
            import orjson

            _dumps = orjson.dumps
        except ModuleNotFoundError:  # pragma: no cover
            from .._jsontext import dumps_ascii

            _dumps = dumps_ascii
    try:
        return _dumps(obj)  # type: ignore[no-any-return]
    except TypeError:
        from .._jsontext import dumps_ascii

        return dumps_ascii(obj)


# ---------------------------------------------------------------------------------------------
# Routing


class Route:
    __slots__ = ("op", "method", "parts", "fixed_query", "status", "model")

    def __init__(self, op: str, model: dict[str, Any]) -> None:
        self.op = op
        self.model = model
        self.method = model["method"]
        path, _, query = model["uri"].partition("?")
        self.parts: list[tuple[bool, str]] = [(p.startswith("{"), p.strip("{}+")) for p in path.strip("/").split("/")]
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
    """Method and path to the operation, for the given operations (default: every implemented one)."""

    def __init__(self, operations: list[str] | None = None) -> None:
        if operations is None:
            from . import implemented_operations

            operations = implemented_operations()
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


def parse_target(target: str) -> tuple[str, dict[str, list[str]]]:
    path, _, qs = target.partition("?")
    return path, parse_qs(qs, keep_blank_values=True) if qs else {}


# ---------------------------------------------------------------------------------------------
# Server side: HTTP -> call, result -> HTTP


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
    """A path or query value as the member's type (a number that does not parse is left for
    the operation's validation to word)."""
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


def decode_request(route: Route, params: dict[str, str], query: dict[str, list[str]], headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The request dict of a routed HTTP request (`headers` by lower-case name)."""
    members = route.model["input"]
    request: dict[str, Any] = {}
    payload_member = None
    for name, meta in members.items():
        loc = meta["location"]
        if loc == "uri":
            value = params.get(meta["location_name"])
            if value is not None:
                request[name] = value if meta["type"] == "string" else _query_value([value], meta["type"])
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
        from .._jsontext import loads

        try:
            doc = loads(body)
        except ValueError as exc:
            raise LambdaError("InvalidRequestContentException", f"Could not parse request body into json: {exc}") from None
        if not isinstance(doc, dict):
            raise LambdaError("InvalidRequestContentException", "Could not parse request body into json: not an object")
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


def encode_response(route: Route, result: dict[str, Any]) -> tuple[int, Headers, bytes]:
    """Status, headers and body of a result. Header members are sent in the result's order, which
    is the order the client puts them back in."""
    outputs = route.model["output"]
    status = route.status
    headers: Headers = []
    body_doc: dict[str, Any] = {}
    raw: bytes | None = None
    for key, value in result.items():
        meta = outputs.get(key)
        loc = meta["location"] if meta else "body"
        if loc == "header":
            headers.append((meta["location_name"], str(value)))
        elif loc == "statusCode":
            status = int(value)
        elif loc == "payload":
            raw = bytes(value) if isinstance(value, (bytes, bytearray)) else dumps(value)
        else:
            body_doc[key] = value
    if raw is not None:
        return status, headers, raw
    if status == 204 or (not body_doc and route.method == "DELETE"):
        return status, headers, b""
    return status, headers, dumps(body_doc)


def encode_error(exc: LambdaError) -> tuple[int, Headers, bytes]:
    headers = [("x-amzn-ErrorType", exc.code)]
    if exc.code == "TooManyRequestsException":
        headers.append(("Retry-After", "1"))
    body = exc.body()
    if exc.code in CAPITAL_MESSAGE:
        body["Message"] = body.pop("message")
    return exc.status, headers, dumps(body)


# ---------------------------------------------------------------------------------------------
# Client side: call -> HTTP, HTTP -> result


def _encode_blobs(value: Any, type_: Any) -> Any:
    if type_ == "blob" and isinstance(value, (bytes, bytearray)):
        return base64.b64encode(value).decode("ascii")
    if isinstance(type_, dict) and "structure" in type_ and isinstance(value, dict):
        members = type_["structure"]
        return {k: _encode_blobs(v, members.get(k)) for k, v in value.items()}
    return value


def encode_request(op: str, request: dict[str, Any]) -> tuple[str, str, dict[str, str], bytes]:
    """(method, target, headers, body) of a call, serialised as botocore serialises it."""
    model = operation(op)
    path, _, fixed_query = model["uri"].partition("?")
    query: list[tuple[str, str]] = []
    headers: dict[str, str] = {}
    body_doc: dict[str, Any] = {}
    payload: bytes | None = None
    local = LOCAL_MEMBERS.get(op, ())
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
            payload = bytes(value) if isinstance(value, (bytes, bytearray)) else json.dumps(value).encode()
        else:
            body_doc[name] = _encode_blobs(value, meta["type"])
    target = path
    qs = "&".join(f"{quote(k, safe='')}={quote(v, safe='')}" for k, v in query)
    if fixed_query or qs:
        target += "?" + "&".join(p for p in (fixed_query, qs) if p)
    body = payload if payload is not None else (json.dumps(body_doc).encode() if body_doc or model["method"] in ("POST", "PUT") else b"")
    if body and "Content-Type" not in headers:
        headers["Content-Type"] = "application/json"
    return model["method"], target, headers, body


def decode_error(status: int, headers: dict[str, str], body: bytes) -> LambdaError:
    """The `LambdaError` an error response stands for (`headers` by lower-case name)."""
    code = (headers.get("x-amzn-errortype") or "ServiceException").split(":", 1)[0]
    try:
        doc = json.loads(body) if body else {}
    except ValueError:
        doc = {}
    if not isinstance(doc, dict):
        doc = {}
    message = doc.pop("message", None) or doc.pop("Message", None) or body.decode("utf-8", "replace")
    doc.pop("Type", None)
    return LambdaError(code, message, status, **doc)


def decode_response(op: str, status: int, headers: dict[str, str], body: bytes) -> dict[str, Any]:
    """The result dict of a response (`headers` by lower-case name, in the order received), or
    the `LambdaError` it carries raised. The status member comes first, then header members in
    the order the server sent them (the service's own order), then the body's or the payload."""
    if status >= 300:
        raise decode_error(status, headers, body)
    model = operation(op)
    result: dict[str, Any] = {}
    by_header: dict[str, tuple[str, Any]] = {}
    payload_member = None
    for name, meta in model["output"].items():
        loc = meta["location"]
        if loc == "header":
            by_header[meta["location_name"].lower()] = (name, meta["type"])
        elif loc == "statusCode":
            result[name] = status
        elif loc == "payload":
            payload_member = name
    if by_header:
        for header, value in headers.items():
            member = by_header.get(header)
            if member is not None:
                result[member[0]] = int(value) if member[1] in ("integer", "long") else value
    if payload_member is not None:
        result[payload_member] = body
        return result
    if body:
        doc: dict[str, Any] = json.loads(body)
        doc.update(result)
        return doc
    return result
