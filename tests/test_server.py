"""`lambdactl serve` with real clients: boto3 over every implemented operation, the CLI routing
through server.json, warm environments, and a clean stop."""

from __future__ import annotations

import base64
import json
import os
import signal
import time
from pathlib import Path

import pytest

from .helpers import ROLE, make_zip, run_cli

ARN = "arn:aws:lambda:us-east-1:123456789012:function:f"

HANDLER = """
import os, time
COUNT = 0
def handler(event, context):
    global COUNT
    COUNT += 1
    if event.get("sleep"):
        time.sleep(event["sleep"])
    if event.get("fail"):
        raise RuntimeError("bad")
    return {"count": COUNT, "version": os.environ["AWS_LAMBDA_FUNCTION_VERSION"], "init": os.environ["AWS_LAMBDA_INITIALIZATION_TYPE"]}
"""


def create(lam, name: str = "f", code: str = HANDLER, **extra):
    return lam.create_function(FunctionName=name, Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": make_zip({"app.py": code})}, **extra)


def test_function_lifecycle_through_boto3(lam) -> None:
    out = create(lam, Environment={"Variables": {"AA": "1"}}, Tags={"t": "v"})
    assert out["FunctionArn"] == ARN and out["State"] == "Pending"
    lam.get_waiter("function_active_v2").wait(FunctionName="f")
    got = lam.get_function(FunctionName="f")
    assert got["Configuration"]["Environment"] == {"Variables": {"AA": "1"}} and got["Tags"] == {"t": "v"}
    assert got["Code"]["Location"].startswith("http://127.0.0.1:")
    assert lam.get_function_configuration(FunctionName=ARN)["MemorySize"] == 128
    upd = lam.update_function_configuration(FunctionName="f", MemorySize=512, Description="x")
    assert upd["MemorySize"] == 512
    lam.get_waiter("function_updated_v2").wait(FunctionName="f")
    code = lam.update_function_code(FunctionName="f", ZipFile=make_zip({"app.py": HANDLER + "\n# v2\n"}), Publish=True)
    assert code["Version"] == "1"
    assert [v["Version"] for v in lam.list_versions_by_function(FunctionName="f")["Versions"]] == ["$LATEST", "1"]
    paginator = lam.get_paginator("list_functions")
    names = [f["FunctionName"] for page in paginator.paginate() for f in page["Functions"]]
    assert names == ["f"]
    lam.tag_resource(Resource=ARN, Tags={"k": "v"})
    lam.untag_resource(Resource=ARN, TagKeys=["t"])
    assert lam.list_tags(Resource=ARN)["Tags"] == {"k": "v"}
    assert lam.get_account_settings()["AccountUsage"]["FunctionCount"] == 1
    alias = lam.create_alias(FunctionName="f", Name="live", FunctionVersion="1")
    assert alias["AliasArn"] == ARN + ":live"
    assert lam.list_aliases(FunctionName="f")["Aliases"][0]["Name"] == "live"
    lam.update_alias(FunctionName="f", Name="live", Description="d")
    stmt = lam.add_permission(FunctionName="f", StatementId="s", Action="lambda:InvokeFunction", Principal="sns.amazonaws.com")
    assert json.loads(stmt["Statement"])["Sid"] == "s"
    assert json.loads(lam.get_policy(FunctionName="f")["Policy"])["Statement"][0]["Principal"] == {"Service": "sns.amazonaws.com"}
    lam.remove_permission(FunctionName="f", StatementId="s")
    lam.delete_alias(FunctionName="f", Name="live")
    lam.delete_function(FunctionName="f", Qualifier="1")
    lam.delete_function(FunctionName="f")
    assert lam.list_functions()["Functions"] == []


def test_layers_through_boto3(lam) -> None:
    v = lam.publish_layer_version(LayerName="libs", Content={"ZipFile": make_zip({"python/libmod.py": "VALUE = 42\n"})}, CompatibleRuntimes=["python3.12"])
    assert v["Version"] == 1
    assert lam.get_layer_version_by_arn(Arn=v["LayerVersionArn"])["Version"] == 1
    assert lam.list_layers()["Layers"][0]["LayerName"] == "libs"
    assert lam.list_layer_versions(LayerName="libs")["LayerVersions"][0]["Version"] == 1
    lam.add_layer_version_permission(LayerName="libs", VersionNumber=1, StatementId="all", Action="lambda:GetLayerVersion", Principal="*")
    assert "all" in lam.get_layer_version_policy(LayerName="libs", VersionNumber=1)["Policy"]
    lam.remove_layer_version_permission(LayerName="libs", VersionNumber=1, StatementId="all")
    create(lam, code="import libmod\ndef handler(e, c):\n    return libmod.VALUE\n", Layers=[v["LayerVersionArn"]])
    assert json.loads(lam.invoke(FunctionName="f")["Payload"].read()) == 42
    lam.delete_layer_version(LayerName="libs", VersionNumber=1)
    assert json.loads(lam.invoke(FunctionName="f")["Payload"].read()) == 42


def test_errors_parse_into_botocore_exceptions(lam) -> None:
    with pytest.raises(lam.exceptions.ResourceNotFoundException) as info:
        lam.get_function(FunctionName="ghost")
    assert info.value.response["Error"]["Message"] == f"Function not found: {ARN[:-1]}ghost"
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    assert info.value.response["ResponseMetadata"]["RequestId"]
    create(lam)
    with pytest.raises(lam.exceptions.ResourceConflictException):
        create(lam)
    with pytest.raises(lam.exceptions.InvalidParameterValueException):
        lam.update_function_configuration(FunctionName="f", Runtime="python3.8")
    with pytest.raises(lam.exceptions.PreconditionFailedException):
        lam.update_function_configuration(FunctionName="f", Timeout=5, RevisionId="nope")
    with pytest.raises(lam.exceptions.InvalidRequestContentException):
        lam.invoke(FunctionName="f", Payload=b"not json")
    with pytest.raises(lam.exceptions.RequestTooLargeException):
        lam.invoke(FunctionName="f", Payload=json.dumps({"x": "y" * 6_300_000}).encode())
    with pytest.raises(lam.exceptions.ClientError) as info:
        lam.update_function_configuration(FunctionName="f", MemorySize=20000)
    assert info.value.response["Error"]["Code"] == "ValidationException"


def test_invoke_headers_and_warm_reuse(lam) -> None:
    create(lam)
    first = lam.invoke(FunctionName="f", Payload=b"{}", LogType="Tail")
    assert first["StatusCode"] == 200 and first["ExecutedVersion"] == "$LATEST"
    assert json.loads(first["Payload"].read())["count"] == 1
    log = base64.b64decode(first["LogResult"]).decode()
    assert "Init Duration" in log
    second = lam.invoke(FunctionName="f", Payload=b"{}", LogType="Tail")
    assert json.loads(second["Payload"].read())["count"] == 2  # same environment: INIT once
    assert "Init Duration" not in base64.b64decode(second["LogResult"]).decode()
    failed = lam.invoke(FunctionName="f", Payload=b'{"fail": true}')
    assert failed["FunctionError"] == "Unhandled"
    assert json.loads(failed["Payload"].read())["errorMessage"] == "bad"
    dry = lam.invoke(FunctionName="f", InvocationType="DryRun")
    assert dry["StatusCode"] == 204
    # A configuration change gives a fresh environment.
    lam.update_function_configuration(FunctionName="f", Timeout=10)
    assert json.loads(lam.invoke(FunctionName="f")["Payload"].read())["count"] == 1


def test_timeout_replaces_the_environment(lam) -> None:
    create(lam, Timeout=1)
    assert json.loads(lam.invoke(FunctionName="f")["Payload"].read())["count"] == 1
    out = lam.invoke(FunctionName="f", Payload=b'{"sleep": 3}')
    body = json.loads(out["Payload"].read())
    assert out["FunctionError"] == "Unhandled" and body["errorType"] == "Sandbox.Timedout"
    assert json.loads(lam.invoke(FunctionName="f")["Payload"].read())["count"] == 1


def test_cli_goes_through_the_running_server(server, home: Path, tmp_path: Path) -> None:
    assert json.loads((home / "server.json").read_text())["port"] == int(server["url"].rsplit(":", 1)[1])
    z = tmp_path / "f.zip"
    z.write_bytes(make_zip({"app.py": HANDLER}))
    r = run_cli("create-function", "--function-name", "f", "--runtime", "python3.12", "--handler", "app.handler", "--role", ROLE, "--zip-file", f"fileb://{z}", "--debug", home=home)
    assert r.code == 0 and f"sending the command to {server['url']}" in r.stderr
    counts = []
    for _ in range(3):
        out = tmp_path / "o.json"
        r = run_cli("invoke", "--function-name", "f", str(out), home=home)
        assert r.code == 0, r.stderr
        counts.append(json.loads(out.read_bytes())["count"])
    assert counts == [1, 2, 3]  # one warm environment across three CLI processes
    r = run_cli("get-function", "--function-name", "ghost", home=home)
    assert r.code == 254 and "ResourceNotFoundException" in r.stderr
    status = run_cli("serve", "status", home=home)
    assert status.code == 0 and status.json["running"] and status.json["pool"]["warm_starts"] >= 2


def test_cli_falls_back_when_the_server_is_gone(home: Path, zip_path: Path) -> None:
    (home / "server.json").write_text(json.dumps({"pid": os.getpid(), "url": "http://127.0.0.1:9", "port": 9}))
    r = run_cli("create-function", "--function-name", "f", "--runtime", "python3.12", "--handler", "app.handler", "--role", ROLE, "--zip-file", f"fileb://{zip_path}", home=home)
    assert r.code == 0, r.stderr
    # Waiters too: polled here, not "could not connect".
    r = run_cli("wait", "function-active-v2", "--function-name", "f", home=home)
    assert (r.code, r.stderr) == (0, ""), r.stderr


def test_endpoint_url_flag(server, tmp_path: Path) -> None:
    other_home = tmp_path / "elsewhere"
    r = run_cli("list-functions", "--endpoint-url", server["url"], home=other_home)
    assert r.code == 0 and r.json == {"Functions": []}
    r = run_cli("list-functions", "--endpoint-url", "http://127.0.0.1:9", home=other_home)
    assert r.code == 255 and "Could not connect to the endpoint URL" in r.stderr


def test_cli_read_timeout(server, lam, tmp_path: Path) -> None:
    create(lam)
    other_home = tmp_path / "elsewhere"
    base = ("invoke", "--function-name", "f", "--endpoint-url", server["url"], "--payload", '{"sleep": 2}')
    r = run_cli(*base, "--cli-read-timeout", "1", str(tmp_path / "a.json"), home=other_home)
    assert (r.code, r.stderr.strip()) == (255, f'Read timeout on endpoint URL: "{server["url"]}/2015-03-31/functions/f/invocations"')
    r = run_cli(*base, "--cli-read-timeout", "0", str(tmp_path / "b.json"), home=other_home)  # 0: no limit
    assert r.code == 0 and json.loads((tmp_path / "b.json").read_text())["count"] >= 1


def _descendants(pid: int) -> set[int]:
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, IndexError, ValueError):
                continue
            children.setdefault(ppid, []).append(int(entry.name))
    out: set[int] = set()
    todo = [pid]
    while todo:
        for c in children.get(todo.pop(), []):
            out.add(c)
            todo.append(c)
    return out


def _running(pid: int) -> bool:
    """Alive and not a zombie (an orphan's zombie lingers until init reaps it)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except (OSError, IndexError):
        return False
    return state != "Z"


def test_sigterm_stops_everything(server, lam, home: Path) -> None:
    create(lam)
    create(lam, "g")
    lam.invoke(FunctionName="f")
    lam.invoke(FunctionName="g")
    proc = server["proc"]
    assert len(_descendants(proc.pid)) >= 2  # two warm sandboxes
    kids = _descendants(proc.pid)
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline and [p for p in kids if _running(p)]:
        time.sleep(0.05)
    assert not [p for p in kids if _running(p)]
    assert not (home / "server.json").exists()


def test_sigterm_delivered_to_another_thread_still_stops_the_server(server, lam, home: Path) -> None:
    """The kernel may hand a process-directed signal to any of its threads (likelier to a
    thread other than the main one when the main one has a SIGCHLD pending from a sandbox).
    The server must stop however it was delivered: here it goes to a worker thread on purpose."""
    import ctypes

    create(lam)
    lam.invoke(FunctionName="f")
    proc = server["proc"]
    workers = [int(t) for t in os.listdir(f"/proc/{proc.pid}/task") if int(t) != proc.pid]
    assert workers
    libc = ctypes.CDLL(None, use_errno=True)
    sys_tgkill = 234  # x86_64; aarch64 has 131
    number = sys_tgkill if os.uname().machine == "x86_64" else 131
    assert libc.syscall(number, proc.pid, workers[-1], signal.SIGTERM) == 0, ctypes.get_errno()
    proc.wait(timeout=25)
    assert not (home / "server.json").exists()


def test_serve_detach_status_stop(home: Path) -> None:
    r = run_cli("serve", "--detach", "--port", "0", home=home)
    assert r.code == 0, r.stderr
    info = r.json
    try:
        st = run_cli("serve", "status", home=home)
        assert st.code == 0 and st.json["url"] == info["url"]
        again = run_cli("serve", "--port", "0", home=home)
        assert again.code == 255 and "already runs" in again.stderr
    finally:
        stop = run_cli("serve", "stop", home=home)
    assert stop.code == 0
    assert run_cli("serve", "status", home=home).code == 1


def test_provisioned_concurrency_prestarts_environments(lam, server) -> None:
    create(lam)
    lam.publish_version(FunctionName="f")
    lam.put_provisioned_concurrency_config(FunctionName="f", Qualifier="1", ProvisionedConcurrentExecutions=2)
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status = json.loads(run_cli("serve", "status", home=Path(server["home"])).stdout)["pool"]
        if status["provisioned"] == 2:
            break
        time.sleep(0.1)
    assert status["provisioned"] == 2
    body = json.loads(lam.invoke(FunctionName="f", Qualifier="1")["Payload"].read())
    assert body == {"count": 1, "version": "1", "init": "provisioned-concurrency"}
    assert lam.get_provisioned_concurrency_config(FunctionName="f", Qualifier="1")["Status"] == "READY"
    # $LATEST is on demand.
    assert json.loads(lam.invoke(FunctionName="f")["Payload"].read())["init"] == "on-demand"
    lam.delete_provisioned_concurrency_config(FunctionName="f", Qualifier="1")


def test_reserved_concurrency_throttles_with_429(lam) -> None:
    create(lam)
    lam.put_function_concurrency(FunctionName="f", ReservedConcurrentExecutions=0)
    with pytest.raises(lam.exceptions.TooManyRequestsException) as info:
        lam.invoke(FunctionName="f")
    assert info.value.response["ResponseMetadata"]["HTTPStatusCode"] == 429
    assert info.value.response["Reason"] == "ReservedFunctionConcurrentInvocationLimitExceeded"


def test_parallel_invocations_get_their_own_environments(lam, server) -> None:
    from concurrent.futures import ThreadPoolExecutor

    create(lam, Timeout=10)
    lam.put_function_concurrency(FunctionName="f", ReservedConcurrentExecutions=3)

    def call(_: int) -> object:
        try:
            return json.loads(lam.invoke(FunctionName="f", Payload=b'{"sleep": 1.5}')["Payload"].read())
        except lam.exceptions.TooManyRequestsException:
            return "throttled"

    with ThreadPoolExecutor(5) as pool:
        results = list(pool.map(call, range(5)))
    assert results.count("throttled") == 2
    assert sorted(r["count"] for r in results if r != "throttled") == [1, 1, 1]  # three cold environments
