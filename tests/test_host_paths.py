"""The control plane never hands a function the host: a function in a real sandbox, calling the
real server it runs under, cannot make a function of a host folder; `--code-dir` works only from
the local CLI, also while a server runs."""

from __future__ import annotations

import http.client
import json
from pathlib import Path
from urllib.parse import urlsplit

from .conftest import boto_lambda
from .helpers import ROLE, make_zip, run_cli

# Runs inside the sandbox with the standard library only: publishes a layer holding a handler
# that reads its task root, makes a function whose code is `event["folder"]` on the host with
# that layer, and invokes it.
ESCAPE = r'''
import base64, io, json, os, urllib.error, urllib.request, zipfile

THIEF = """
import os
def handler(event, context):
    out = {}
    for name in sorted(os.listdir("/var/task")):
        with open(os.path.join("/var/task", name), errors="replace") as fh:
            out[name] = fh.read()
    return out
"""

def call(base, method, path, doc=None):
    data = None if doc is None else json.dumps(doc).encode()
    req = urllib.request.Request(base + path, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, json.loads(resp.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, {"code": exc.headers.get("x-amzn-ErrorType"), **json.loads(exc.read() or b"{}")}

def handler(event, context):
    base = event.get("endpoint") or os.environ.get("AWS_ENDPOINT_URL")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("python/thief.py", date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o100644 << 16
        zf.writestr(info, THIEF)
    status, layer = call(base, "POST", "/2018-10-31/layers/thief/versions",
                         {"Content": {"ZipFile": base64.b64encode(buf.getvalue()).decode()}})
    if status >= 300:
        return {"step": "layer", "status": status, "answer": layer}
    status, created = call(base, "POST", "/2015-03-31/functions", {
        "FunctionName": "stolen", "Runtime": "python3.12", "Role": event["role"], "Handler": "thief.handler",
        "Code": {"CodeDir": event["folder"]}, "Layers": [layer["LayerVersionArn"]]})
    if status >= 300:
        return {"step": "create", "status": status, "answer": created}
    status, got = call(base, "POST", "/2015-03-31/functions/stolen/invocations", {})
    return {"step": "invoke", "status": status, "answer": got}
'''


def _secret_folder(tmp_path: Path) -> Path:
    folder = tmp_path / "host-secrets"
    folder.mkdir()
    (folder / "id_ed25519").write_text("TOP-SECRET-HOST-KEY\n")
    return folder


def test_a_function_cannot_make_a_function_of_a_host_folder(server, tmp_path: Path) -> None:
    folder = _secret_folder(tmp_path)
    lam = boto_lambda(server["url"])
    lam.create_function(FunctionName="escape", Runtime="python3.12", Role=ROLE, Handler="app.handler",
                        Timeout=120, Code={"ZipFile": make_zip({"app.py": ESCAPE})})
    out = lam.invoke(FunctionName="escape", Payload=json.dumps({"endpoint": server["url"], "folder": str(folder), "role": ROLE}))
    result = json.loads(out["Payload"].read())
    assert "FunctionError" not in out, result
    assert "TOP-SECRET" not in json.dumps(result)
    assert result["step"] == "create" and result["status"] == 400, result
    assert result["answer"]["code"] == "InvalidParameterValueException"
    assert "local" in result["answer"]["message"]
    assert lam.list_functions()["Functions"][0]["FunctionName"] == "escape"  # nothing was made


def _raw(url: str, method: str, path: str, doc: dict) -> tuple[int, str | None, dict]:
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    conn.request(method, path, body=json.dumps(doc), headers={"Content-Type": "application/json"})
    resp = conn.getresponse()
    body = json.loads(resp.read() or b"{}")
    conn.close()
    return resp.status, resp.getheader("x-amzn-ErrorType"), body


def test_code_dir_over_http_is_refused_while_the_local_cli_still_works(server, home: Path, tmp_path: Path) -> None:
    folder = _secret_folder(tmp_path)
    status, code, body = _raw(server["url"], "POST", "/2015-03-31/functions", {
        "FunctionName": "raw", "Runtime": "python3.12", "Role": ROLE, "Handler": "app.handler", "Code": {"CodeDir": str(folder)}})
    assert (status, code) == (400, "InvalidParameterValueException"), body
    src = tmp_path / "src"
    src.mkdir()
    (src / "app.py").write_text("def handler(e, c):\n    return {'v': 1}\n")
    # The local CLI makes it in its own process, against the registry the server reads.
    r = run_cli("create-function", "--function-name", "dev", "--runtime", "python3.12", "--handler", "app.handler",
                "--role", ROLE, "--code-dir", str(src), home=home)
    assert r.code == 0, r.stderr
    # Updating a zip function to a folder over HTTP is refused too, the local CLI's works.
    lam = boto_lambda(server["url"])
    lam.create_function(FunctionName="z", Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": make_zip()})
    status, code, _ = _raw(server["url"], "PUT", "/2015-03-31/functions/z/code", {"CodeDir": str(folder)})
    assert (status, code) == (400, "InvalidParameterValueException")
    r = run_cli("update-function-code", "--function-name", "z", "--code-dir", str(src), home=home)
    assert r.code == 0, r.stderr
    # The server runs what the CLI made.
    for name in ("dev", "z"):
        out = lam.invoke(FunctionName=name)
        assert json.loads(out["Payload"].read()) == {"v": 1}
    # HTTP callers see the deployed snapshot's download link, never the folder's path.
    got = lam.get_function(FunctionName="dev")
    assert got["Code"]["RepositoryType"] == "S3" and str(src) not in json.dumps(got, default=str)
    # The local CLI (in its own process, since the server runs) still names its folder.
    local = run_cli("get-function", "--function-name", "dev", home=home, env={"LAMBDACTL_DIRECT": "1"}).json
    assert local["Code"] == {"RepositoryType": "Directory", "Location": str(src)}
