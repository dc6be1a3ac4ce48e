"""Property-based fuzzing of every way input arrives: the shorthand parser and JSON flag values
in-process, requests at the service's door in-process, and bounded numbers of request bodies and
command lines against a real server. The property is always the same: an AWS error or a
success, never a 500, a traceback or an exception nobody named."""

from __future__ import annotations

import http.client
import json
import re
from pathlib import Path
from typing import Any

import orjson
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from lambdactl.api_model import operation
from lambdactl.cli._values import ParamError, convert, parse_shorthand
from lambdactl.errors import LambdaError
from lambdactl.service import Service
from lambdactl.settings import Settings

from .conftest import start_server
from .helpers import create_args, make_zip, run_cli

OPERATIONS = ("CreateFunction", "UpdateFunctionConfiguration", "CreateAlias", "UpdateAlias",
              "PutFunctionEventInvokeConfig", "CreateFunctionUrlConfig", "TagResource", "AddPermission",
              "PublishLayerVersion", "PutFunctionConcurrency", "ListFunctions", "GetFunction")
MEMBERS = [(op, m, meta["type"]) for op in OPERATIONS for m, meta in operation(op)["input"].items()]

# Characters that matter to the shorthand grammar, plus the troublemakers of text.
SHORTHAND = st.text(alphabet='{}[],="\' \\aZ1.-:\n\t\x00\ud800\udcffé0e+', max_size=60)
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats()
           | st.integers(min_value=10**30, max_value=10**60) | st.text(max_size=20)
           | st.text(st.characters(blacklist_categories=()), max_size=6)  # lone surrogates too
           | st.sampled_from(["x\ud800", "caf\udcff", "a\x00b", "\udfff"]))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=8), inner, max_size=4), max_leaves=20)
NAMES = st.sampled_from(sorted({m for _, m, _ in MEMBERS}) + ["Variables", "Code", "ZipFile", "Unknown"])
REQUEST = st.dictionaries(NAMES, JSON, max_size=6)


@settings(max_examples=1500, deadline=None)
@given(text=SHORTHAND, target=st.sampled_from(MEMBERS))
def test_flag_values_parse_or_are_refused_in_aws_words(text: str, target: tuple[str, str, Any]) -> None:
    _, member, type_ = target
    try:
        convert(f"--{member.lower()}", type_, text, member=member)
    except ParamError as exc:
        assert str(exc)


@settings(max_examples=500, deadline=None)
@given(value=JSON, target=st.sampled_from(MEMBERS), depth=st.integers(min_value=0, max_value=3000))
def test_json_flag_values_parse_or_are_refused_in_aws_words(value: Any, target: tuple[str, str, Any], depth: int) -> None:
    _, member, type_ = target
    nested = "[" * depth + json.dumps(value) + "]" * depth
    structured = isinstance(type_, dict) and ("structure" in type_ or "map" in type_)
    text = '{"Variables": ' + nested + "}" if structured else nested
    try:
        convert(f"--{member.lower()}", type_, text, member=member)
    except ParamError as exc:
        assert str(exc)


@settings(max_examples=300, deadline=None)
@given(text=SHORTHAND)
def test_shorthand_parses_or_is_refused(text: str) -> None:
    try:
        parsed = parse_shorthand(text, "--x")
    except ParamError:
        return
    assert isinstance(parsed, dict)


@pytest.fixture(scope="module")
def door(tmp_path_factory: pytest.TempPathFactory) -> Service:
    service = Service(Settings.load(tmp_path_factory.mktemp("door")))
    service.call("CreateFunction", {"FunctionName": "f", "Runtime": "python3.12", "Handler": "app.handler",
                                    "Role": "arn:aws:iam::123456789012:role/r", "Code": {"ZipFile": make_zip()}})
    yield service
    service.close()


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(op=st.sampled_from(OPERATIONS), request=REQUEST, name=st.sampled_from(["f", "g", "f\udcff", "f\x00"]))
@example(op="UpdateFunctionConfiguration", request={"Description": "caf\udcff"}, name="f")
@example(op="TagResource", request={"Resource": "arn:aws:lambda:us-east-1:123456789012:function:f",
                                    "Tags": {"k\ud800": "v"}}, name="f")
@example(op="UpdateFunctionConfiguration", request={"Environment": {"Variables": {"KEY": "a\x00b"}}}, name="f")
def test_any_request_at_the_service_door_is_an_aws_error_or_a_success(door: Service, op: str, request: dict[str, Any], name: str) -> None:
    request = {"FunctionName": name, **request}
    try:
        door.call(op, request)
    except LambdaError as exc:
        assert exc.status < 500 or exc.code != "ServiceException", exc
    # whatever was stored, every reader can still be answered in strict UTF-8 JSON
    orjson.dumps(door.call("ListFunctions", {"FunctionVersion": "ALL"}))


# -- against a real server -------------------------------------------------------------------------

ROUTES = {  # operation -> (method, path) of a function that exists
    "CreateFunction": ("POST", "/2015-03-31/functions"),
    "UpdateFunctionConfiguration": ("PUT", "/2015-03-31/functions/f/configuration"),
    "CreateAlias": ("POST", "/2015-03-31/functions/f/aliases"),
    "PutFunctionEventInvokeConfig": ("PUT", "/2019-09-25/functions/f/event-invoke-config"),
    "TagResource": ("POST", "/2017-03-31/tags/arn:aws:lambda:us-east-1:123456789012:function:f"),
    "AddPermission": ("POST", "/2015-03-31/functions/f/policy"),
    "Invoke": ("POST", "/2015-03-31/functions/nope/invocations"),
}


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Any:
    home = tmp_path_factory.mktemp("fuzzserver")
    gen = start_server(home)
    info = next(gen)
    zip_path = home / "code.zip"
    zip_path.write_bytes(make_zip())
    assert run_cli(*create_args("f", zip_path), home=home).code == 0
    yield info
    for _ in gen:
        pass


def _post(info: dict[str, Any], method: str, path: str, body: bytes) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection("127.0.0.1", int(info["url"].rsplit(":", 1)[1]), timeout=60)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()
    finally:
        conn.close()


BODIES = (REQUEST.map(lambda d: json.dumps(d).encode())
          | st.binary(max_size=200)
          | st.integers(min_value=0, max_value=6000).map(lambda n: b'{"Description": ' + b"[" * n + b"]" * n + b"}")
          | st.integers(min_value=4000, max_value=6000).map(lambda n: b'{"MemorySize": 1' + b"0" * n + b"}"))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(op=st.sampled_from(sorted(ROUTES)), body=BODIES)
def test_any_request_body_gets_an_aws_answer_from_a_real_server(live: dict[str, Any], op: str, body: bytes) -> None:
    method, path = ROUTES[op]
    status, headers, data = _post(live, method, path, body)
    assert status != 500, data[:500]
    if status >= 400:
        doc = json.loads(data)
        assert headers.get("x-amzn-errortype") and (doc.get("message") or doc.get("Message")), data[:500]


EXCEPTION_LINE = re.compile(r"lambdactl: error: [A-Z]\w*(Error|Exception)\b")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(flag=st.sampled_from(["--environment", "--tracing-config", "--ephemeral-storage", "--logging-config",
                             "--cli-input-json", "--layers", "--description", "--timeout"]),
       value=SHORTHAND | JSON.map(json.dumps))
def test_any_flag_value_sent_to_a_real_server_is_an_aws_error_or_a_success(live: dict[str, Any], flag: str, value: str) -> None:
    # argv holds neither NUL nor a surrogate Python could not turn back into a byte
    value = value.replace("\x00", "").replace("\ud800", "\udcff")
    value = value.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape") if _argv_safe(value) else "x"
    if not value or value.startswith(("file://", "fileb://")):
        value = "x" + value
    r = run_cli("update-function-configuration", "--function-name", "f", flag, value, home=Path(live["home"]))
    assert r.code in (0, 252, 254, 255), r.stderr
    assert "Traceback" not in r.stderr and not EXCEPTION_LINE.search(r.stderr), r.stderr
    if r.code == 254:
        assert "An error occurred (" in r.stderr and "ServiceException" not in r.stderr, r.stderr


def _argv_safe(value: str) -> bool:
    try:
        value.encode("utf-8", "surrogateescape")
    except UnicodeEncodeError:
        return False
    return True
