"""What the control plane changes at invoke time: layers under /opt for Python, Node and provided
runtimes, and alias weights over many invocations (through the server's warm environments)."""

from __future__ import annotations

import json
import shutil

import pytest

from .helpers import ROLE, make_zip

NODE = shutil.which("node")


def publish(lam, name: str, files: dict[str, str | bytes]) -> str:
    return lam.publish_layer_version(LayerName=name, Content={"ZipFile": make_zip(files)})["LayerVersionArn"]


def test_python_layers_merge_in_order(lam) -> None:
    a = publish(lam, "a", {"python/shared.py": "WHO = 'a'\n", "python/only_a.py": "X = 1\n"})
    b = publish(lam, "b", {"python/shared.py": "WHO = 'b'\n", "python/lib/python3.12/site-packages/sitepkg.py": "Y = 2\n"})
    code = "import shared, only_a, sitepkg, os\ndef handler(e, c):\n    return [shared.WHO, only_a.X, sitepkg.Y, sorted(os.listdir('/opt/python'))]\n"
    lam.create_function(FunctionName="f", Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": make_zip({"app.py": code})}, Layers=[a, b])
    assert json.loads(lam.invoke(FunctionName="f")["Payload"].read()) == ["b", 1, 2, ["lib", "only_a.py", "shared.py"]]
    lam.update_function_configuration(FunctionName="f", Layers=[b, a])
    assert json.loads(lam.invoke(FunctionName="f")["Payload"].read())[0] == "a"


@pytest.mark.skipif(NODE is None, reason="no node on this machine")
def test_node_layer_modules(lam) -> None:
    import subprocess

    major = subprocess.run([NODE, "-p", "process.versions.node.split('.')[0]"], capture_output=True, text=True).stdout.strip()
    runtime = f"nodejs{major}.x"
    layer = publish(lam, "nodelib", {"nodejs/node_modules/greeter/index.js": "module.exports = (n) => `hello ${n}`;\n"})
    code = "const greet = require('greeter');\nexports.handler = async (e) => greet(e.name);\n"
    lam.create_function(FunctionName="n", Runtime=runtime, Role=ROLE, Handler="index.handler", Code={"ZipFile": make_zip({"index.js": code})}, Layers=[layer])
    out = lam.invoke(FunctionName="n", Payload=b'{"name": "ada"}')
    assert json.loads(out["Payload"].read()) == "hello ada", out


def test_bootstrap_from_a_layer(lam) -> None:
    # A provided runtime whose bootstrap (a shell script using bash's /dev/tcp) ships in a layer.
    bootstrap = r'''#!/bin/bash
set -euo pipefail
HOST=${AWS_LAMBDA_RUNTIME_API%:*}; PORT=${AWS_LAMBDA_RUNTIME_API#*:}
while true; do
  exec 3<>/dev/tcp/$HOST/$PORT
  printf 'GET /2018-06-01/runtime/invocation/next HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n' >&3
  ID=""
  while IFS= read -r line <&3; do
    line=${line%$'\r'}
    [[ -z $line ]] && break
    case ${line,,} in lambda-runtime-aws-request-id:*) ID=${line#*: };; esac
  done
  cat <&3 >/dev/null
  exec 3>&-
  BODY="\"from layer bootstrap: $_HANDLER\""
  exec 3<>/dev/tcp/$HOST/$PORT
  printf 'POST /2018-06-01/runtime/invocation/%s/response HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\nConnection: close\r\n\r\n%s' "$ID" "${#BODY}" "$BODY" >&3
  cat <&3 >/dev/null
  exec 3>&-
done
'''
    import io
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        info = zipfile.ZipInfo("bootstrap", date_time=(2020, 1, 1, 0, 0, 0))
        info.external_attr = 0o100755 << 16
        zf.writestr(info, bootstrap)
    layer = lam.publish_layer_version(LayerName="rt", Content={"ZipFile": buf.getvalue()})["LayerVersionArn"]
    lam.create_function(FunctionName="p", Runtime="provided.al2023", Role=ROLE, Handler="my.handler", Code={"ZipFile": make_zip({"README": "code without a bootstrap"})}, Layers=[layer])
    out = lam.invoke(FunctionName="p")
    assert json.loads(out["Payload"].read()) == "from layer bootstrap: my.handler", out


def test_alias_weights_over_2000_invocations(lam) -> None:
    code = "import os\ndef handler(e, c):\n    return os.environ['AWS_LAMBDA_FUNCTION_VERSION']\n"
    lam.create_function(FunctionName="w", Runtime="python3.12", Role=ROLE, Handler="app.handler", Code={"ZipFile": make_zip({"app.py": code})}, Publish=True)
    lam.update_function_configuration(FunctionName="w", Timeout=4)
    lam.publish_version(FunctionName="w")
    lam.create_alias(FunctionName="w", Name="canary", FunctionVersion="1", RoutingConfig={"AdditionalVersionWeights": {"2": 0.25}})
    counts = {"1": 0, "2": 0}
    for _ in range(2000):
        out = lam.invoke(FunctionName="w", Qualifier="canary")
        ran = json.loads(out["Payload"].read())
        assert ran == out["ExecutedVersion"]
        counts[ran] += 1
    # Binomial(2000, 0.25): mean 500, standard deviation 19.4; 5 deviations is a 1-in-3-million miss.
    assert abs(counts["2"] - 500) < 97, counts
