"""`invoke` end to end through the installed CLI: output shape, outfile, logs, errors, qualifiers."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from lambdactl import _fstree

from .helpers import create_args, make_zip, run_cli

HANDLER = '''
import json, os, sys
def handler(event, context):
    print("event", json.dumps(event))
    if event.get("fail"):
        raise ValueError("boom")
    return {
        "event": event,
        "version": os.environ["AWS_LAMBDA_FUNCTION_VERSION"],
        "arn": context.invoked_function_arn,
        "client": getattr(getattr(context, "client_context", None), "custom", None),
    }
'''


@pytest.fixture
def fn(home: Path, tmp_path: Path) -> Path:
    z = tmp_path / "fn.zip"
    z.write_bytes(make_zip({"app.py": HANDLER}))
    r = run_cli(*create_args("f", z), home=home)
    assert r.code == 0, r.stderr
    return home


def test_invoke_writes_payload_and_prints_metadata(fn: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    r = run_cli("invoke", "--function-name", "f", "--payload", '{"a": 1}', str(out), home=fn)
    assert r.code == 0, r.stderr
    assert r.json == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
    body = json.loads(out.read_bytes())
    assert body["event"] == {"a": 1} and body["version"] == "$LATEST"
    assert body["arn"] == "arn:aws:lambda:us-east-1:123456789012:function:f"


def test_payload_from_file_and_stdout(fn: Path, tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text('{"from": "file"}')
    r = run_cli("invoke", "--function-name", "f", "--payload", f"fileb://{event}", "-", home=fn)
    assert r.code == 0, r.stderr
    first, rest = r.stdout.split("\n", 1)
    assert json.loads(first)["event"] == {"from": "file"}
    assert json.loads(rest)["StatusCode"] == 200
    r = run_cli("invoke", "--function-name", "f", "--cli-binary-format", "raw-in-base64-out", "--payload", f"file://{event}", "-", home=fn)
    assert json.loads(r.stdout.split("\n", 1)[0])["event"] == {"from": "file"}
    b64 = base64.b64encode(b'{"b": 2}').decode()
    r = run_cli("invoke", "--function-name", "f", "--cli-binary-format", "base64", "--payload", b64, "-", home=fn)
    assert json.loads(r.stdout.split("\n", 1)[0])["event"] == {"b": 2}
    # Text that is not base64 under that format: the AWS CLI's plain failure, exit 255.
    r = run_cli("invoke", "--function-name", "f", "--cli-binary-format", "base64", "--payload", '{"b": 2}', "-", home=fn)
    assert (r.code, r.stderr.strip()) == (255, 'Invalid base64: "{"b": 2}"')


def test_function_error_exits_zero_with_unhandled(fn: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.json"
    r = run_cli("invoke", "--function-name", "f", "--payload", '{"fail": true}', str(out), home=fn)
    assert r.code == 0
    assert r.json["FunctionError"] == "Unhandled"
    err = json.loads(out.read_bytes())
    assert err["errorType"] == "ValueError" and err["errorMessage"] == "boom"
    assert "requestId" in err and isinstance(err["stackTrace"], list)


def test_log_tail_and_logs_command(fn: Path, tmp_path: Path) -> None:
    r = run_cli("invoke", "--function-name", "f", "--payload", '{"x": 5}', "--log-type", "Tail", str(tmp_path / "o"), home=fn)
    log = base64.b64decode(r.json["LogResult"]).decode()
    lines = log.splitlines()
    assert lines[0].startswith("START RequestId: ") and lines[0].endswith("Version: $LATEST")
    assert 'event {"x": 5}' in lines
    assert lines[-2].startswith("END RequestId: ")
    report = lines[-1]
    assert report.startswith("REPORT RequestId: ") and "\tDuration: " in report and "\tBilled Duration: " in report
    assert "\tMemory Size: 128 MB\t" in report and "Max Memory Used: " in report and "Init Duration: " in report
    tail = run_cli("logs", "tail", "f", "--since", "1h", home=fn)
    assert tail.code == 0
    assert 'event {"x": 5}' in tail.stdout and "REPORT RequestId" in tail.stdout


def test_log_result_is_the_last_4kb(home: Path, tmp_path: Path) -> None:
    z = tmp_path / "loud.zip"
    z.write_bytes(make_zip({"app.py": "def handler(e, c):\n    print('x' * 20000)\n    return 1\n"}))
    run_cli(*create_args("loud", z), home=home)
    r = run_cli("invoke", "--function-name", "loud", "--log-type", "Tail", str(tmp_path / "o"), home=home)
    tail = base64.b64decode(r.json["LogResult"])
    assert len(tail) == 4096 and tail.rstrip().splitlines()[-1].startswith(b"REPORT")


@pytest.mark.parametrize(
    ("args", "code", "fragment"),
    [
        (["--payload", "not json"], "InvalidRequestContentException", "Could not parse request body into json"),
        (["--invocation-type", "Event"], "InvalidParameterValueException", "asynchronous"),
        (["--invocation-type", "Sometimes"], "ValidationException", "invocationType"),
        (["--qualifier", "9"], "ResourceNotFoundException", "function:f:9"),
        (["--client-context", "%%%"], "InvalidParameterValueException", "Client context"),
    ],
)
def test_invoke_errors(fn: Path, tmp_path: Path, args: list[str], code: str, fragment: str) -> None:
    r = run_cli("invoke", "--function-name", "f", *args, str(tmp_path / "o"), home=fn)
    assert r.code == 254, r.stderr
    assert f"An error occurred ({code}) when calling the Invoke operation" in r.stderr and fragment in r.stderr


def test_payload_over_6mb_is_refused(fn: Path, tmp_path: Path) -> None:
    big = tmp_path / "big.json"
    big.write_text(json.dumps({"d": "x" * 6_291_456}))
    r = run_cli("invoke", "--function-name", "f", "--payload", f"fileb://{big}", str(tmp_path / "o"), home=fn)
    assert r.code == 254
    assert "RequestTooLargeException" in r.stderr
    assert "Request must be smaller than 6291456 bytes for the InvokeFunction operation" in r.stderr


def test_dry_run(fn: Path, tmp_path: Path) -> None:
    out = tmp_path / "o"
    r = run_cli("invoke", "--function-name", "f", "--invocation-type", "DryRun", str(out), home=fn)
    assert r.code == 0 and r.json["StatusCode"] == 204
    assert out.read_bytes() == b""


def test_client_context_reaches_the_handler(fn: Path, tmp_path: Path) -> None:
    ctx = base64.b64encode(json.dumps({"custom": {"k": "v"}, "client": {}, "env": {}}).encode()).decode()
    out = tmp_path / "o"
    run_cli("invoke", "--function-name", "f", "--client-context", ctx, str(out), home=fn)
    assert json.loads(out.read_bytes())["client"] == {"k": "v"}


def test_client_context_with_crlf_whitespace_is_re_serialised(fn: Path, tmp_path: Path) -> None:
    # CR/LF are JSON whitespace; passed on verbatim they would end the Runtime API's head early.
    raw = '{"custom":\r\n\r\n{"k": "v\u00e9"},\r\n"env": {}}'.encode()
    out = tmp_path / "o"
    r = run_cli("invoke", "--function-name", "f", "--client-context", base64.b64encode(raw).decode(), str(out), home=fn)
    assert r.code == 0 and "FunctionError" not in r.json, r.stdout + r.stderr
    assert json.loads(out.read_bytes())["client"] == {"k": "v\u00e9"}


def test_deeply_nested_package_invokes(home: Path, tmp_path: Path) -> None:
    # 1500 nested directories: more than the interpreter's recursion limit (1000).
    deep = "a/" * 1500 + "x"
    z = tmp_path / "deep.zip"
    z.write_bytes(make_zip({"app.py": f"def handler(e, c):\n    return open({deep!r}).read()\n", deep: "deep"}))
    assert run_cli(*create_args("deep", z), home=home).code == 0
    out = tmp_path / "o"
    try:
        r = run_cli("invoke", "--function-name", "deep", str(out), home=home)
        assert r.code == 0 and "FunctionError" not in r.json, r.stdout + r.stderr
        assert json.loads(out.read_bytes()) == "deep"
    finally:
        _fstree.rmtree(home, ignore_errors=True)  # pytest's own clean-up recurses per level


def test_versions_and_aliases_run_their_own_code(fn: Path, tmp_path: Path) -> None:
    assert run_cli("publish-version", "--function-name", "f", home=fn).code == 0
    z2 = tmp_path / "v2.zip"
    z2.write_bytes(make_zip({"app.py": "def handler(e, c):\n    return 'two'\n"}))
    run_cli("update-function-code", "--function-name", "f", "--zip-file", f"fileb://{z2}", "--publish", home=fn)
    run_cli("create-alias", "--function-name", "f", "--name", "live", "--function-version", "1", home=fn)
    out = tmp_path / "o"
    r = run_cli("invoke", "--function-name", "f", "--qualifier", "live", str(out), home=fn)
    assert r.json["ExecutedVersion"] == "1"
    body = json.loads(out.read_bytes())
    assert body["version"] == "1" and body["arn"].endswith(":function:f:live")
    r = run_cli("invoke", "--function-name", "f:2", str(out), home=fn)
    assert r.json["ExecutedVersion"] == "2" and json.loads(out.read_bytes()) == "two"
    r = run_cli("invoke", "--function-name", "f", str(out), home=fn)
    assert json.loads(out.read_bytes()) == "two"


def test_weighted_alias_through_invoke(home: Path, tmp_path: Path) -> None:
    from lambdactl.service import Service
    from lambdactl.settings import Settings

    z = tmp_path / "w.zip"
    z.write_bytes(make_zip({"app.py": "import os\ndef handler(e, c):\n    return os.environ['AWS_LAMBDA_FUNCTION_VERSION']\n"}))
    run_cli(*create_args("w", z, "--publish"), home=home)
    run_cli("update-function-configuration", "--function-name", "w", "--timeout", "5", home=home)
    run_cli("publish-version", "--function-name", "w", home=home)
    run_cli("create-alias", "--function-name", "w", "--name", "split", "--function-version", "1", "--routing-config", 'AdditionalVersionWeights={2=0.5}', home=home)
    svc = Service(Settings.load(home))
    seen = {"1": 0, "2": 0}
    for _ in range(60):
        out = svc.call("Invoke", {"FunctionName": "w", "Qualifier": "split"})
        ran = json.loads(out["Payload"])
        assert ran == out["ExecutedVersion"]
        seen[ran] += 1
    # p(one side never chosen in 60 fair draws) = 2 * 2**-60
    assert seen["1"] > 0 and seen["2"] > 0


def test_reserved_concurrency_zero_throttles(fn: Path, tmp_path: Path) -> None:
    assert run_cli("put-function-concurrency", "--function-name", "f", "--reserved-concurrent-executions", "0", home=fn).code == 0
    r = run_cli("invoke", "--function-name", "f", str(tmp_path / "o"), home=fn)
    assert r.code == 254
    assert r.stderr.strip() == "An error occurred (TooManyRequestsException) when calling the Invoke operation: Rate Exceeded."
    assert run_cli("delete-function-concurrency", "--function-name", "f", home=fn).code == 0
    assert run_cli("invoke", "--function-name", "f", str(tmp_path / "o"), home=fn).code == 0


def test_concurrent_cli_invocations_beyond_the_reservation_are_throttled(home: Path, tmp_path: Path) -> None:
    import subprocess

    from .helpers import console_script

    z = tmp_path / "slow.zip"
    z.write_bytes(make_zip({"app.py": "import time\ndef handler(e, c):\n    time.sleep(3)\n    return 'done'\n"}))
    run_cli(*create_args("slow", z, "--timeout", "20"), home=home)
    run_cli("put-function-concurrency", "--function-name", "slow", "--reserved-concurrent-executions", "2", home=home)
    env = {**__import__("os").environ, "LAMBDACTL_HOME": str(home)}
    procs = [
        subprocess.Popen([console_script(), "invoke", "--function-name", "slow", str(tmp_path / f"o{i}")], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        for i in range(4)
    ]
    results = [p.communicate(timeout=60) + (p.returncode,) for p in procs]
    codes = sorted(r[2] for r in results)
    assert codes == [0, 0, 254, 254], results
    assert sum("ReservedFunctionConcurrentInvocationLimitExceeded" in r[1] or "TooManyRequestsException" in r[1] for r in results) == 2
    # The leases went with their processes: the reservation is whole again.
    assert run_cli("invoke", "--function-name", "slow", str(tmp_path / "again"), home=home).code == 0
