"""provided.* runtimes: bootstraps written by others prove our Runtime API unchanged.

Three clients: a bash-only bootstrap (`/dev/tcp`, no curl), a Python bootstrap using
`http.client` exactly as a custom runtime author would from the public API description, and the
official AWS Python runtime interface client `awslambdaric`, installed from PyPI by the test.
"""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import pytest
from _engine_helpers import host_python_under_usr

from lambdactl.runtime.sandbox import SandboxMode

BASH_BOOTSTRAP = r'''#!/bin/bash
# A custom runtime in bash only: HTTP/1.1 over /dev/tcp, one connection per request.
export LC_ALL=C
set -euo pipefail
HOST=${AWS_LAMBDA_RUNTIME_API%:*}
PORT=${AWS_LAMBDA_RUNTIME_API##*:}
BASE=/2018-06-01/runtime

request() {  # METHOD PATH BODY [EXTRA-HEADER] -> STATUS, HDRS (assoc), BODY_OUT
  exec 3<>"/dev/tcp/$HOST/$PORT"
  local extra=""
  [ -n "${4:-}" ] && extra="$4"$'\r\n'
  printf '%s %s HTTP/1.1\r\nHost: %s\r\nContent-Length: %d\r\nConnection: close\r\n%s\r\n%s' \
    "$1" "$BASE$2" "$HOST" "${#3}" "$extra" "$3" >&3
  local line len=0
  IFS= read -r line <&3
  STATUS=$(echo "$line" | cut -d' ' -f2)
  declare -gA HDRS=()
  while IFS= read -r line <&3; do
    line=${line%$'\r'}
    [ -z "$line" ] && break
    HDRS[${line%%:*}]=${line#*: }
  done
  len=${HDRS[Content-Length]:-${HDRS[content-length]:-0}}
  BODY_OUT=""
  [ "$len" -gt 0 ] && IFS= read -r -N "$len" BODY_OUT <&3
  exec 3>&-
}

echo "bash runtime starting, handler=$_HANDLER"
while true; do
  request GET /invocation/next ""
  RID=${HDRS[Lambda-Runtime-Aws-Request-Id]}
  EVENT=$BODY_OUT
  echo "event for $RID: $EVENT"
  if [[ "$EVENT" == *fail* ]]; then
    request POST "/invocation/$RID/error" '{"errorMessage":"asked to fail","errorType":"BashError"}' \
      "Lambda-Runtime-Function-Error-Type: BashError"
  else
    request POST "/invocation/$RID/response" "{\"echo\":$EVENT,\"handler\":\"$_HANDLER\",\"rid\":\"$RID\"}"
  fi
done
'''

PY_BOOTSTRAP = r'''#!{python}
"""A custom runtime written from the public Runtime API description (http.client)."""
import http.client, json, os, sys
conn = http.client.HTTPConnection(os.environ["AWS_LAMBDA_RUNTIME_API"])
base = "/2018-06-01/runtime"
if os.environ["_HANDLER"] == "fail.init":
    conn.request("POST", base + "/init/error",
                 json.dumps({"errorMessage": "cannot start", "errorType": "Custom.InitFailed"}),
                 {"Lambda-Runtime-Function-Error-Type": "Custom.InitFailed"})
    r = conn.getresponse(); r.read()
    assert r.status == 202, r.status
    sys.exit(1)
n = 0
while True:
    conn.request("GET", base + "/invocation/next")
    r = conn.getresponse()
    event = json.loads(r.read())
    rid = r.getheader("Lambda-Runtime-Aws-Request-Id")
    n += 1
    body = json.dumps({"n": n, "event": event, "deadline": r.getheader("Lambda-Runtime-Deadline-Ms"),
                       "arn": r.getheader("Lambda-Runtime-Invoked-Function-Arn"),
                       "exec_env": os.environ.get("AWS_EXECUTION_ENV")})
    conn.request("POST", base + "/invocation/" + rid + "/response", body)
    r = conn.getresponse(); r.read()
    assert r.status == 202
    # A second answer to the same id must be refused.
    conn.request("POST", base + "/invocation/" + rid + "/response", "{}")
    r = conn.getresponse(); r.read()
    print("second answer status", r.status, flush=True)
'''


def test_bash_bootstrap(make_env):
    env = make_env({"bootstrap": (BASH_BOOTSTRAP, 0o755)}, runtime="provided.al2023",
                   handler="my.handler")
    out = env.invoke(b'{"k": "v"}', request_id="bash-1")
    assert out.status == "success", out
    assert json.loads(out.payload) == {"echo": {"k": "v"}, "handler": "my.handler",
                                       "rid": "bash-1"}
    assert b"bash runtime starting, handler=my.handler" in out.log
    assert b'event for bash-1: {"k": "v"}' in out.log
    failed = env.invoke(b'{"please": "fail"}')
    assert failed.function_error == "Unhandled" and failed.error_type == "BashError"
    assert json.loads(failed.payload)["errorMessage"] == "asked to fail"
    assert env.invoke(b"{}").status == "success"


def _python_or_skip():
    info = host_python_under_usr()
    if info is None:
        pytest.skip("no Python installed under /usr to run a custom bootstrap with")
    return info


def test_python_http_client_bootstrap(make_env):
    info = _python_or_skip()
    code = PY_BOOTSTRAP.replace("{python}", str(info.executable))
    env = make_env({"bootstrap": (code, 0o755)}, runtime="provided.al2", handler="x.y")
    first = env.invoke(b'{"a": 1}')
    assert first.status == "success", first
    doc = json.loads(first.payload)
    assert doc["n"] == 1 and doc["event"] == {"a": 1} and doc["exec_env"] is None
    assert doc["arn"].endswith(":function:fn") and int(doc["deadline"]) > 0
    second = env.invoke(b"{}")
    assert json.loads(second.payload)["n"] == 2
    # printed right after the first answer: it lands in the first or the second log
    assert b"second answer status 400" in first.log + second.log


def test_custom_init_error(make_env):
    info = _python_or_skip()
    code = PY_BOOTSTRAP.replace("{python}", str(info.executable))
    env = make_env({"bootstrap": (code, 0o755)}, runtime="provided.al2023", handler="fail.init")
    out = env.invoke(b"{}")
    assert out.error_type == "Custom.InitFailed"
    assert json.loads(out.payload)["errorMessage"] == "cannot start"


def test_opt_bootstrap_from_layer(make_env):
    env = make_env({"README": "code without bootstrap"}, runtime="provided.al2023",
                   handler="h", layers={"bootstrap": (BASH_BOOTSTRAP, 0o755)})
    assert json.loads(env.invoke(b"1").payload)["echo"] == 1


@pytest.mark.parametrize("files", [
    {"README": "no bootstrap at all"},
    {"bootstrap": ("#!/bin/sh\necho not executable\n", 0o644)},
])
def test_invalid_entrypoint(make_env, files):
    env = make_env(files, runtime="provided.al2023", handler="h")
    out = env.invoke(b"{}", request_id="ie")
    assert out.error_type == "Runtime.InvalidEntrypoint"
    assert json.loads(out.payload) == {
        "errorType": "Runtime.InvalidEntrypoint",
        "errorMessage": "RequestId: ie Error: Couldn't find valid bootstrap(s): "
                        "[/var/task/bootstrap /opt/bootstrap]"}


@pytest.mark.parametrize("env_mode", [None, SandboxMode("fallback", None, None, "forced by the test")],
                         ids=["detected", "fallback"])
def test_bootstrap_the_kernel_cannot_run_is_an_invalid_entrypoint(make_env, env_mode):
    env = make_env({"bootstrap": ("#!/nonexistent/interpreter\n", 0o755)},
                   runtime="provided.al2023", handler="h", env_mode=env_mode)
    out = env.invoke(b"{}", request_id="ie")
    assert out.error_type == "Runtime.InvalidEntrypoint", out
    assert json.loads(out.payload) == {
        "errorType": "Runtime.InvalidEntrypoint",
        "errorMessage": "RequestId: ie Error: fork/exec /var/task/bootstrap: no such file or directory"}


# -- the official runtime interface client ------------------------------------------------------

@pytest.fixture(scope="session")
def ric_package(tmp_path_factory):
    """awslambdaric (+ deps) installed for a Python the sandbox can run, or a skip saying why."""
    info = host_python_under_usr()
    if info is None:
        pytest.skip("no Python installed under /usr to run awslambdaric with")
    minor = ".".join(info.version.split(".")[:2])
    target = tmp_path_factory.mktemp("ric")
    cmd = [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
           "--target", str(target), "--only-binary=:all:", "--implementation", "cp",
           "--python-version", minor, "--platform", f"manylinux2014_{platform.machine()}",
           "awslambdaric"]
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    if r.returncode != 0:
        pytest.skip(f"cannot install awslambdaric from PyPI for Python {minor}: "
                    f"{r.stderr.strip()[-300:]}")
    return info, target


def _tree_files(root: Path) -> dict[str, tuple[bytes, int]]:
    out = {}
    for dirpath, _, filenames in os.walk(root):
        for f in filenames:
            p = Path(dirpath) / f
            out[str(p.relative_to(root))] = (p.read_bytes(), p.stat().st_mode & 0o777 | 0o444)
    return out


RIC_APP = '''
import os
n = 0
def handler(event, context):
    global n
    n += 1
    print("ric handler", n)
    if event.get("fail"):
        raise KeyError("missing")
    if event.get("big"):
        return "x" * 7_000_000
    return {"n": n, "event": event, "request_id": context.aws_request_id,
            "remaining_ok": 0 < context.get_remaining_time_in_millis() <= 3000,
            "memory": context.memory_limit_in_mb, "arn": context.invoked_function_arn,
            "client": context.client_context.custom if context.client_context else None}
'''


def test_official_awslambdaric(make_env, ric_package):
    info, pkg = ric_package
    files = _tree_files(pkg)
    files["app.py"] = (RIC_APP.encode(), 0o644)
    files["bootstrap"] = (f"#!/bin/sh\ncd \"$LAMBDA_TASK_ROOT\"\n"
                          f"exec {info.executable} -m awslambdaric \"$_HANDLER\"\n".encode(), 0o755)
    env = make_env(files, runtime="provided.al2023", handler="app.handler", memory_mb=256)
    cc = json.dumps({"custom": {"k": "v"}, "client": {}, "env": {}})
    out = env.invoke(b'{"hello": "ric"}', request_id="ric-1", client_context=cc)
    assert out.status == "success", out
    doc = json.loads(out.payload)
    assert doc == {"n": 1, "event": {"hello": "ric"}, "request_id": "ric-1", "remaining_ok": True,
                   "memory": "256", "arn": env.spec.function_arn, "client": {"k": "v"}}
    assert b"ric handler 1" in out.log
    failed = env.invoke(b'{"fail": true}', request_id="ric-2")
    assert failed.function_error == "Unhandled" and failed.error_type == "KeyError"
    err = json.loads(failed.payload)
    assert err["errorType"] == "KeyError" and err["requestId"] == "ric-2"
    assert json.loads(env.invoke(b"{}").payload)["n"] == 3
    big = env.invoke(b'{"big": true}', request_id="ric-4")
    assert big.error_type == "Function.ResponseSizeTooLarge", big
    # awslambdaric exits when its response is refused (as on AWS, where Lambda restarts it):
    # the environment then dies by itself and is never handed another request.
    deadline = time.monotonic() + 5
    while env.state.value != "Dead" and time.monotonic() < deadline:
        time.sleep(0.01)
    assert env.state.value == "Dead" and not env.reusable
    fresh = make_env(files, runtime="provided.al2023", handler="app.handler")
    assert json.loads(fresh.invoke(b"{}").payload)["n"] == 1


def test_official_awslambdaric_init_error(make_env, ric_package):
    info, pkg = ric_package
    files = _tree_files(pkg)
    files["app.py"] = (b"x = 1\n", 0o644)
    files["bootstrap"] = (f"#!/bin/sh\ncd \"$LAMBDA_TASK_ROOT\"\n"
                          f"exec {info.executable} -m awslambdaric \"$_HANDLER\"\n".encode(), 0o755)
    env = make_env(files, runtime="provided.al2023", handler="app.nothere")
    out = env.invoke(b"{}")
    assert out.error_type == "Runtime.HandlerNotFound", out
    assert env.state.value == "Dead"
