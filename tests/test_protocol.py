"""The rest-json protocol against botocore, for every implemented operation: a request botocore
serialises decodes to the call botocore was given, our client encodes the same request botocore
does, and a result we encode parses (in botocore and in our client) back to the same dict."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

import botocore.session
import pytest
from botocore.awsrequest import HeadersDict
from botocore.model import OperationModel, Shape
from botocore.parsers import create_parser
from botocore.serialize import create_serializer

from lambdactl.api_model import operation
from lambdactl.errors import LambdaError
from lambdactl.protocol import implemented_operations
from lambdactl.protocol.rest_json import (
    Router,
    decode_request,
    decode_response,
    encode_error,
    encode_request,
    encode_response,
    parse_target,
)

MODEL = botocore.session.get_session().get_service_model("lambda")
OPERATIONS = implemented_operations()
ROUTER = Router()


def sample(shape: Shape, name: str, depth: int = 0) -> Any:
    """A value of `shape` that survives a round trip and says where it came from: text with
    characters that need quoting in a path or query, numbers, bytes that are not UTF-8."""
    kind = shape.type_name
    if kind == "string":
        enum = shape.metadata.get("enum")
        return enum[-1] if enum else f"{name}:v/1 é+&="
    if kind in ("integer", "long"):
        return 7
    if kind == "boolean":
        return True
    if kind in ("double", "float"):
        return 1.5
    if kind == "blob":
        return b"\x00\xffbin " + name.encode()
    if kind == "list":
        return [sample(shape.member, name, depth + 1), sample(shape.member, name + "2", depth + 1)]  # type: ignore[attr-defined]
    if kind == "map":
        return {"k": sample(shape.value, name, depth + 1)}  # type: ignore[attr-defined]
    if kind == "structure":
        if depth > 3:
            return {}
        return {k: v for k, m in shape.members.items()  # type: ignore[attr-defined]
                if (v := sample(m, k, depth + 1)) is not None}
    return None  # timestamps and documents: no Lambda operation we implement sends one


def full_request(op: OperationModel) -> dict[str, Any]:
    """Every member our model knows (botocore's may be newer)."""
    known = operation(op.name)["input"]
    whole = sample(op.input_shape, op.name) if op.input_shape is not None else {}
    return {k: v for k, v in whole.items() if k in known}


def full_result(op: OperationModel) -> dict[str, Any]:
    known = operation(op.name)["output"]
    whole = sample(op.output_shape, op.name) if op.output_shape is not None else {}
    fixed = {"statusCode": 200, "payload": b'{"ok": true}'}  # a status botocore reads as success; a JSON payload
    return {k: fixed.get(known[k]["location"], v) for k, v in whole.items() if k in known}


def serialise(op: OperationModel, params: dict[str, Any]) -> dict[str, Any]:
    """botocore's request: method, target, headers and body bytes."""
    wire = create_serializer("rest-json", include_validation=False).serialize_to_request(params, op)
    qs = urlencode(wire["query_string"], doseq=True)
    target = wire["url_path"] + (("&" if "?" in wire["url_path"] else "?") + qs if qs else "")
    body = wire["body"] if isinstance(wire["body"], bytes) else wire["body"].encode()
    return {"method": wire["method"], "target": target, "headers": wire["headers"], "body": body}


def test_every_implemented_operation_is_routed() -> None:
    assert len(OPERATIONS) > 40
    for name in OPERATIONS:
        http = MODEL.operation_model(name).http
        path, _, query = http["requestUri"].partition("?")
        assert ROUTER.by_method[http["method"]], name


@pytest.mark.parametrize("name", OPERATIONS)
def test_botocore_request_decodes_to_the_call(name: str) -> None:
    op = MODEL.operation_model(name)
    params = full_request(op)
    wire = serialise(op, params)
    path, query = parse_target(wire["target"])
    matched = ROUTER.match(wire["method"], path, query)
    assert matched is not None and matched[0].op == name
    headers = {k.lower(): v for k, v in wire["headers"].items()}
    assert decode_request(*matched, query, headers, wire["body"]) == params


@pytest.mark.parametrize("name", OPERATIONS)
def test_our_request_is_botocores(name: str) -> None:
    op = MODEL.operation_model(name)
    params = full_request(op)
    wire = serialise(op, params)
    method, target, headers, body = encode_request(name, params)
    assert method == wire["method"]
    ours, theirs_target = urlsplit(target), urlsplit(wire["target"])
    assert ours.path == theirs_target.path
    assert parse_qs(ours.query, keep_blank_values=True) == parse_qs(theirs_target.query, keep_blank_values=True)
    members = {m.serialization.get("name", k).lower() for k, m in op.input_shape.members.items()
               if m.serialization.get("location") == "header"} if op.input_shape is not None else set()
    assert {k.lower(): v for k, v in headers.items() if k.lower() in members} == \
        {k.lower(): v for k, v in wire["headers"].items() if k.lower() in members}
    theirs = wire["body"]
    if op.input_shape is not None and any(m.serialization.get("location") is None and not m.serialization.get("eventpayload")
                                          for k, m in op.input_shape.members.items() if k != op.input_shape.serialization.get("payload")):
        assert json.loads(body or b"{}") == json.loads(theirs or b"{}")
    else:
        assert body == theirs


@pytest.mark.parametrize("name", OPERATIONS)
def test_our_response_parses_in_botocore_and_back(name: str) -> None:
    op = MODEL.operation_model(name)
    result = full_result(op)
    route = next(r for routes in ROUTER.by_method.values() for r in routes if r.op == name)
    status, headers, body = encode_response(route, result)
    parsed = create_parser("rest-json").parse(
        {"status_code": status, "headers": HeadersDict(headers), "body": body}, op.output_shape)
    parsed.pop("ResponseMetadata", None)
    payload = op.output_shape.serialization.get("payload") if op.output_shape is not None else None
    if payload in parsed and hasattr(parsed[payload], "read"):
        parsed[payload] = parsed[payload].read()  # botocore's StreamingBody
    elif isinstance(parsed.get(payload), str):
        parsed[payload] = parsed[payload].encode()  # a non-streaming blob payload is read as text
    assert parsed == result
    assert decode_response(name, status, {k.lower(): v for k, v in headers}, body) == result


@pytest.mark.parametrize(("code", "status", "extra"), [
    ("ResourceNotFoundException", 404, {}),
    ("TooManyRequestsException", 429, {"Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"}),
    ("InvalidParameterValueException", 400, {}),
])
def test_errors_parse_in_botocore_and_back(code: str, status: int, extra: dict[str, str]) -> None:
    op = MODEL.operation_model("GetFunction")
    status_, headers, body = encode_error(LambdaError(code, "what went wrong", status, **extra))
    parsed = create_parser("rest-json").parse({"status_code": status_, "headers": HeadersDict(headers), "body": body}, op.output_shape)
    assert parsed["Error"]["Code"] == code and parsed["Error"]["Message"] == "what went wrong"
    assert parsed["ResponseMetadata"]["HTTPStatusCode"] == status
    with pytest.raises(LambdaError) as info:
        decode_response("GetFunction", status_, {k.lower(): v for k, v in headers}, body)
    assert (info.value.code, info.value.message, info.value.status) == (code, "what went wrong", status)
    assert info.value.body().get("Reason") == extra.get("Reason")


def test_invoke_result_keeps_the_service_order() -> None:
    """The CLI prints a remote invoke's result in the order the service returned it."""
    route = ROUTER.match("POST", "/2015-03-31/functions/f/invocations", {})[0]  # type: ignore[index]
    result = {"StatusCode": 200, "FunctionError": "Unhandled", "LogResult": "bG9n", "ExecutedVersion": "$LATEST", "Payload": b"{}"}
    status, headers, body = encode_response(route, result)
    assert list(decode_response("Invoke", status, {k.lower(): v for k, v in headers}, body)) == list(result)
