"""Nothing stored can break a reader, and no input gives a traceback: strings that are not UTF-8,
NUL in environment values, JSON nested too deep or with numbers too large, over HTTP and from the
CLI, file values that never end, and errors with no AWS words."""

from __future__ import annotations

import base64
import http.client
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path
from typing import Any

from lambdactl.errors import LambdaError
from lambdactl.service import Service

from .conftest import create, error_of
from .helpers import ROLE, create_args, make_zip, run_cli

FUNCTIONS = "/2015-03-31/functions"


def call(server: dict[str, Any], method: str, path: str, body: bytes = b"") -> tuple[int, dict[str, Any]]:
    """One request on a plain socket-level client (no SDK to clean the body up first)."""
    conn = http_client(server)
    try:
        conn.request(method, path, body=body, headers={"Content-Type": "application/json"})
        resp = conn.getresponse()
        data = resp.read()
    finally:
        conn.close()
    return resp.status, (json.loads(data) if data else {})


def create_body(name: str, **extra: Any) -> dict[str, Any]:
    return {"FunctionName": name, "Runtime": "python3.12", "Role": ROLE, "Handler": "app.handler",
            "Code": {"ZipFile": base64.b64encode(make_zip()).decode()}, **extra}


def names(server: dict[str, Any]) -> list[str]:
    status, doc = call(server, "GET", FUNCTIONS + "/")
    assert status == 200, doc
    return [f["FunctionName"] for f in doc["Functions"]]


def test_text_that_is_not_utf8_is_refused_over_http_and_nothing_is_committed(server) -> None:
    good = json.dumps(create_body("f", Description="REPLACE")).encode()
    # raw bytes that are not UTF-8, and a lone surrogate written as a JSON escape
    for bad in (good.replace(b"REPLACE", b"a\xff\xfeb"), good.replace(b"REPLACE", b"a\\ud800b")):
        status, doc = call(server, "POST", FUNCTIONS, bad)
        assert status == 400, doc
        assert doc["Type"] == "User" and doc["message"].startswith("Could not parse request body into json")
    assert names(server) == []
    # worded as Lambda's parser words it
    assert call(server, "POST", FUNCTIONS, good.replace(b"REPLACE", b"\xff"))[1]["message"] == \
        "Could not parse request body into json: Invalid UTF-8 start byte 0xff"
    assert call(server, "POST", FUNCTIONS, good)[0] == 201
    status, doc = call(server, "POST", f"{FUNCTIONS}/f/invocations", b'{"a": "\xc3("}')
    assert status == 400 and doc["message"] == \
        "Could not parse request body into json: Could not parse payload into json: Invalid UTF-8 middle byte 0x28"
    # an update with one is refused too, and leaves the function as it was
    status, doc = call(server, "PUT", f"{FUNCTIONS}/f/configuration", b'{"Description": "x\\udfffy"}')
    assert status == 400 and "surrogate" in doc["message"], doc
    assert call(server, "GET", f"{FUNCTIONS}/f/configuration")[1]["Description"] == "REPLACE"
    # a tag key is a string of the request too
    status, doc = call(server, "POST", "/2017-03-31/tags/arn:aws:lambda:us-east-1:123456789012:function:f",
                       b'{"Tags": {"k\\ud800": "v"}}')
    assert status == 400, doc
    assert names(server) == ["f"]


def test_a_bad_string_stored_before_is_escaped_not_a_500(server) -> None:
    """A registry written by an older lambdactl may hold a lone surrogate: every reader still
    gets an answer (the string as its JSON escape), not a 500 for everyone."""
    assert call(server, "POST", FUNCTIONS, json.dumps(create_body("f")).encode())[0] == 201
    with sqlite3.connect(Path(server["home"]) / "registry.db") as conn:
        (config,) = conn.execute("SELECT config FROM versions WHERE function = 'f'").fetchone()
        conn.execute("UPDATE versions SET config = ?, listing = NULL WHERE function = 'f'",
                     (json.dumps({**json.loads(config), "Description": "x\ud800y"}),))
    for path in (FUNCTIONS + "/", f"{FUNCTIONS}/f", f"{FUNCTIONS}/f/configuration"):
        status, doc = call(server, "GET", path)
        assert status == 200, (path, doc)
    assert doc["Description"] == "x\ud800y"
    got = run_cli("get-function-configuration", "--function-name", "f", home=server["home"])
    assert got.code == 0 and '"Description": "x\\ud800y"' in got.stdout


def test_argument_bytes_that_are_not_utf8_are_refused_before_anything_is_written(home: Path, zip_path: Path) -> None:
    # subprocess passes "\udcff" as the byte 0xff, which is what a shell hands over for $'\xff'
    made = run_cli(*create_args("f", zip_path, "--description", "caf\udcff"), home=home)
    assert made.code == 254, made.stderr
    assert "InvalidRequestContentException" in made.stderr and "0xff" in made.stderr
    assert run_cli("list-functions", home=home).json == {"Functions": []}
    assert run_cli(*create_args("f", zip_path), home=home).code == 0
    upd = run_cli("update-function-configuration", "--function-name", "f", "--environment",
                  "Variables={KEY=\udcfe}", home=home)
    assert upd.code == 254 and "InvalidRequestContentException" in upd.stderr
    assert "Environment" not in run_cli("get-function-configuration", "--function-name", "f", home=home).json


def test_nul_in_an_environment_value_is_refused_at_create_and_update(svc: Service, home: Path, zip_path: Path) -> None:
    err = error_of(svc, "CreateFunction", {"FunctionName": "f", "Runtime": "python3.12", "Role": ROLE,
                                           "Handler": "app.handler", "Code": {"ZipFile": make_zip()},
                                           "Environment": {"Variables": {"KEY": "a\x00b"}}})
    assert err.code == "InvalidParameterValueException" and "null character" in err.message and "KEY" in err.message
    create(svc)
    err = error_of(svc, "UpdateFunctionConfiguration", {"FunctionName": "f", "Environment": {"Variables": {"OK": "1", "BAD": "\x00"}}})
    assert err.code == "InvalidParameterValueException" and "BAD" in err.message and "OK," not in err.message
    assert "Environment" not in svc.call("GetFunctionConfiguration", {"FunctionName": "f"})
    r = run_cli(*create_args("g", zip_path, "--environment", '{"Variables": {"KEY": "x\\u0000y"}}'), home=home)
    assert r.code == 254 and "null character" in r.stderr


DEEP = b"[" * 100_000 + b"]" * 100_000
HUGE_INT = b"1" + b"0" * 5000


def test_deep_json_and_huge_numbers_over_http(server) -> None:
    bodies = [
        b'{"FunctionName": "f", "Description": ' + DEEP + b"}",  # deeper than the parser's stack
        b'{"FunctionName": "f", "Description": ' + b"[" * 200 + b"]" * 200 + b"}",  # parsed, too deep to take
        b'{"FunctionName": "f", "MemorySize": ' + HUGE_INT + b"}",
    ]
    for body in bodies:
        status, doc = call(server, "POST", FUNCTIONS, body)
        assert status == 400, doc
        assert doc["message"].startswith("Could not parse request body into json")
    status, doc = call(server, "POST", FUNCTIONS, json.dumps(create_body("f")).replace('"Role"', '"MemorySize": 1e999, "Role"').encode())
    assert status == 400 and "memorySize" in doc["message"], doc
    assert names(server) == []
    assert call(server, "POST", FUNCTIONS, json.dumps(create_body("f")).encode())[0] == 201
    for payload in (DEEP, HUGE_INT, b'{"a": 1' + b"0" * 5000 + b"}"):
        status, doc = call(server, "POST", f"{FUNCTIONS}/f/invocations", payload)
        assert status == 400, doc
        assert doc["message"].startswith("Could not parse request body into json: Could not parse payload into json")
    # a client context nested deeper than the parser's stack
    ctx = base64.b64encode(b"[" * 2500 + b"]" * 2500).decode()
    conn = http_client(server)
    conn.request("POST", f"{FUNCTIONS}/f/invocations", body=b"{}", headers={"X-Amz-Client-Context": ctx})
    resp = conn.getresponse()
    assert resp.status == 400 and b"Client context" in resp.read()
    conn.close()


def http_client(server: dict[str, Any]) -> http.client.HTTPConnection:
    return http.client.HTTPConnection("127.0.0.1", int(server["url"].rsplit(":", 1)[1]), timeout=60)


def test_deep_json_and_huge_numbers_from_the_cli(home: Path, zip_path: Path) -> None:
    deep = "[" * 50_000 + "]" * 50_000  # deeper than the parser's stack, within one argument's limit
    assert run_cli(*create_args("f", zip_path), home=home).code == 0
    runs = [
        (["update-function-configuration", "--function-name", "f", "--cli-input-json", '{"Description": ' + deep + "}"], 252),
        (["update-function-configuration", "--function-name", "f", "--cli-input-json",
          '{"Description": ' + "[" * 200 + "]" * 200 + "}"], 254),
        (["update-function-configuration", "--function-name", "f", "--environment", '{"Variables": ' + deep + "}"], 252),
        (["update-function-configuration", "--function-name", "f", "--cli-input-json", '{"Timeout": 1' + "0" * 5000 + "}"], 252),
        (["update-function-configuration", "--function-name", "f", "--cli-input-json", '{"Timeout": 1e999}'], 254),
        (["update-function-configuration", "--function-name", "f", "--cli-input-yaml", "Description: " + "[" * 5000], 252),
        (["invoke", "--function-name", "f", "--payload", deep, "/dev/null"], 254),
        (["invoke", "--function-name", "f", "--payload", "1" + "0" * 5000, "/dev/null"], 254),
    ]
    for args, code in runs:
        r = run_cli(*args, home=home)
        assert r.code == code, (args[:5], r.stderr[-500:])
        assert "Traceback" not in r.stderr and len(r.stderr) < 250_000
    assert run_cli("get-function-configuration", "--function-name", "f", home=home).json["Timeout"] == 3


def test_input_documents_too_large_once_expanded_are_refused(home: Path, zip_path: Path, tmp_path: Path) -> None:
    """YAML aliases share nodes: 2 KB of nested aliases stands for 9^10 values, which walking the
    request took hours over. The expanded size is measured by object, not by walking it."""
    assert run_cli(*create_args("f", zip_path), home=home).code == 0
    bomb = tmp_path / "bomb.yaml"
    lines = ["FunctionName: f", "x0: &x0 [1, 1]"]
    lines += [f"x{i}: &x{i} [" + ", ".join([f"*x{i - 1}"] * 9) + "]" for i in range(1, 11)]
    bomb.write_text("\n".join(lines) + "\n")
    endless = tmp_path / "endless.yaml"
    endless.write_text("FunctionName: f\nDescription: &a [1, *a]\n")
    wide = tmp_path / "wide.json"
    wide.write_text('{"FunctionName": "f", "Description": [' + ",".join(["0"] * 1_000_001) + "]}")
    for flag, path in (("--cli-input-yaml", bomb), ("--cli-input-yaml", endless), ("--cli-input-json", wide)):
        r = run_cli("update-function-configuration", flag, f"file://{path}", home=home, timeout=60)
        assert r.code == 252, r.stderr[-500:]
        assert f"Error parsing parameter '{flag}'" in r.stderr and "1,000,000 values" in r.stderr
    # Aliases within the bound are fine.
    shared = tmp_path / "shared.yaml"
    shared.write_text("FunctionName: &name f\nDescription: *name\nEnvironment: {Variables: &v {AB: '1'}}\n")
    assert run_cli("update-function-configuration", "--cli-input-yaml", f"file://{shared}", home=home).code == 0
    assert run_cli("get-function-configuration", "--function-name", "f", home=home).json["Description"] == "f"


def test_expanded_size_counts_shared_nodes_per_reference() -> None:
    from lambdactl.service._validate import expanded_size

    leaf = [1, 2]
    assert expanded_size(leaf) == 3
    assert expanded_size({"a": leaf, "b": leaf}) == 1 + 2 + 3 + 3
    level = leaf
    for _ in range(40):  # 2^40 leaves once expanded, 40 objects
        level = [level, level]
    assert expanded_size(level) == 1_000_001
    assert expanded_size(level, limit=10**15) == 2**40 * 3 + 2**40 - 1
    loop: list = [1]
    loop.append({"again": loop})
    assert expanded_size(loop) == 1_000_001
    assert expanded_size("text") == 1


# A function that answers through the Runtime API itself, with JSON nested deeper than the
# parser's stack: on /error without the error-type header, or on /response.
DEEP_ANSWER = """
import os, urllib.request
def handler(event, context):
    base = "http://" + os.environ["AWS_LAMBDA_RUNTIME_API"] + "/2018-06-01/runtime/invocation/"
    kind = "error" if event.get("error") else "response"
    body = b'{"statusCode": 200, "body": ' + b"[" * 100000 + b"]" * 100000 + b"}"
    urllib.request.urlopen(urllib.request.Request(base + context.aws_request_id + "/" + kind, data=body))
    return None
"""


def test_a_function_answering_json_nested_too_deep_is_not_a_500(server) -> None:
    body = create_body("deep", Code={"ZipFile": base64.b64encode(make_zip({"app.py": DEEP_ANSWER})).decode()})
    assert call(server, "POST", FUNCTIONS, json.dumps(body).encode())[0] == 201
    conn = http_client(server)
    conn.request("POST", f"{FUNCTIONS}/deep/invocations", body=b'{"error": true}')
    resp = conn.getresponse()
    data = resp.read()
    assert resp.status == 200 and resp.getheader("X-Amz-Function-Error") == "Unhandled", data
    conn.close()
    status, url = call(server, "POST", "/2021-10-31/functions/deep/url", b'{"AuthType": "NONE"}')
    assert status == 201, url
    grants = [{"StatementId": "url", "Action": "lambda:InvokeFunctionUrl", "Principal": "*", "FunctionUrlAuthType": "NONE"},
              {"StatementId": "invoke", "Action": "lambda:InvokeFunction", "Principal": "*"}]
    for grant in grants:
        assert call(server, "POST", f"{FUNCTIONS}/deep/policy", json.dumps(grant).encode())[0] == 201
    conn = http_client(server)
    host = url["FunctionUrl"].split("//", 1)[1].split("/", 1)[0]
    conn.request("GET", "/", headers={"Host": host})
    resp = conn.getresponse()
    data = resp.read()
    conn.close()
    assert resp.status == 200 and data.startswith(b'{"statusCode": 200, "body": [[[')


def test_cli_input_json_blobs_follow_the_binary_format(home: Path, zip_path: Path, tmp_path: Path) -> None:
    """As the AWS CLI: with raw-in-base64-out (lambdactl's default) a Payload string in
    --cli-input-json is sent as its UTF-8 text; with base64 it is decoded, and text that is not
    base64 is refused (exit 255) instead of raising."""
    code = "def handler(event, context):\n    return event\n"
    zipped = tmp_path / "echo.zip"
    zipped.write_bytes(make_zip({"app.py": code}))
    assert run_cli(*create_args("f", zipped), home=home).code == 0
    raw = run_cli("invoke", "--function-name", "f", "--cli-input-json", json.dumps({"Payload": '{"a": 1}'}), "-", home=home)
    assert raw.code == 0, raw.stderr
    assert json.loads(raw.stdout.splitlines()[0]) == {"a": 1}
    b64 = base64.b64encode(b'{"b": 2}').decode()
    dec = run_cli("invoke", "--function-name", "f", "--cli-binary-format", "base64", "--cli-input-json",
                  json.dumps({"Payload": b64}), "-", home=home)
    assert dec.code == 0 and json.loads(dec.stdout.splitlines()[0]) == {"b": 2}
    bad = run_cli("invoke", "--function-name", "f", "--cli-binary-format", "base64", "--cli-input-json",
                  json.dumps({"Payload": '{"a": 1}'}), "-", home=home)
    assert bad.code == 255 and "Invalid base64" in bad.stderr and "Traceback" not in bad.stderr


def test_endless_files_stop_at_the_members_limit(home: Path, zip_path: Path, tmp_path: Path) -> None:
    assert run_cli(*create_args("f", zip_path), home=home).code == 0
    fifo = tmp_path / "fifo"
    os.mkfifo(fifo)
    # a writer that never stops: the reader must stop at the limit and say why
    writer = subprocess.Popen([sys.executable, "-c", f"import sys\nf = open({str(fifo)!r}, 'wb')\n"
                               "while True:\n    f.write(b'x' * 65536)"], stderr=subprocess.DEVNULL)
    try:
        r = run_cli("invoke", "--function-name", "f", "--payload", f"fileb://{fifo}", "/dev/null", home=home, timeout=60)
    finally:
        writer.kill()
        writer.wait()
    assert r.code == 254 and "RequestTooLargeException" in r.stderr, r.stderr
    checks = [
        (["invoke", "--function-name", "f", "--payload", "fileb:///dev/zero", "/dev/null"], 254, "RequestTooLargeException"),
        (["invoke", "--function-name", "f", "--payload", "file:///dev/zero", "/dev/null"], 254, "RequestTooLargeException"),
        (["update-function-code", "--function-name", "f", "--zip-file", "fileb:///dev/zero"], 254,
         "Zipped size must be smaller than 52428800 bytes"),
        (["update-function-configuration", "--function-name", "f", "--description", "file:///dev/zero"], 252,
         "larger than 70167211 bytes"),
        (["get-function", "--cli-input-json", "file:///dev/zero"], 252, "larger than 70167211 bytes"),
    ]
    for args, code, words in checks:
        r = run_cli(*args, home=home, timeout=120)
        assert r.code == code and words in r.stderr, (args, r.stderr[-300:])


def test_an_unexpected_error_is_one_line_and_exit_255_with_the_traceback_under_debug(home: Path) -> None:
    script = ("import sys\nimport lambdactl.cli.fast as fast\n"
              "def boom(args):\n    raise RuntimeError('something odd\\nsecond line')\n"
              "fast.run_fast = boom\nfrom lambdactl.cli.main import main\nsys.exit(main(sys.argv[1:]))\n")
    env = {**os.environ, "LAMBDACTL_HOME": str(home)}
    plain = subprocess.run([sys.executable, "-c", script, "list-functions"], capture_output=True, text=True, env=env, timeout=60)
    assert plain.returncode == 255
    assert plain.stderr.strip() == "lambdactl: error: RuntimeError: something odd"
    debug = subprocess.run([sys.executable, "-c", script, "list-functions", "--debug"], capture_output=True, text=True, env=env, timeout=60)
    assert debug.returncode == 255
    assert "Traceback (most recent call last)" in debug.stderr and ", in boom" in debug.stderr
    assert debug.stderr.rstrip().endswith("lambdactl: error: RuntimeError: something odd")


def test_service_door_refuses_before_the_operation_runs(svc: Service) -> None:
    """The one check every request passes: a lone surrogate anywhere (keys included) and
    nesting deeper than any API shape are refused before the operation is even looked up."""
    for request in ({"FunctionName": "f\udc80"}, {"Tags": {"\ud83d": "v"}}, {"X": [[[["\udfff"]]]]},
                    {"FunctionName": "f", "Deep": json.loads("[" * 100 + "]" * 100)}):
        try:
            svc.call("GetFunction", request)
        except LambdaError as exc:
            assert exc.code == "InvalidRequestContentException", request
        else:
            raise AssertionError(request)
