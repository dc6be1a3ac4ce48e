"""The AWS CLI (`aws` from the awscli package, run as a subprocess) against `lambdactl serve`:
create-function with a fileb:// zip, wait, invoke to an outfile, delete-function."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from .helpers import ROLE, make_zip

# awscli v1 (the PyPI package) exits 255 on a service error; v2 exits 254, as lambdactl does.
SERVICE_ERROR_EXIT = 255
HANDLER = "import os\ndef handler(event, context):\n    return {'got': event, 'version': os.environ['AWS_LAMBDA_FUNCTION_VERSION']}\n"


def aws_cli() -> str:
    """The `aws` installed next to the interpreter running the tests (the test extra's awscli)."""
    candidate = Path(sys.executable).parent / "aws"
    found = str(candidate) if candidate.exists() else shutil.which("aws")
    if not found:
        pytest.skip("the AWS CLI is not installed (pip install -e '.[test]')")
    return found


def aws(server: dict, *args: str, access_key: str = "AKIDANYTHING", secret: str = "anything") -> subprocess.CompletedProcess[str]:
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": os.environ.get("HOME", "/nonexistent"),
        "AWS_ACCESS_KEY_ID": access_key,
        "AWS_SECRET_ACCESS_KEY": secret,
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "AWS_PAGER": "",
        "AWS_MAX_ATTEMPTS": "1",
    }
    return subprocess.run([aws_cli(), "lambda", *args, "--endpoint-url", server["url"]],
                          capture_output=True, text=True, env=env, timeout=120)


def test_create_invoke_delete_round_trip(server, tmp_path: Path) -> None:
    zip_path = tmp_path / "code.zip"
    zip_path.write_bytes(make_zip({"app.py": HANDLER}))
    created = aws(server, "create-function", "--function-name", "cli-fn", "--runtime", "python3.12",
                  "--handler", "app.handler", "--role", ROLE, "--zip-file", f"fileb://{zip_path}")
    assert created.returncode == 0, created.stderr
    config = json.loads(created.stdout)
    assert config["FunctionArn"] == "arn:aws:lambda:us-east-1:123456789012:function:cli-fn"
    assert config["Runtime"] == "python3.12" and config["CodeSize"] == zip_path.stat().st_size
    waited = aws(server, "wait", "function-active-v2", "--function-name", "cli-fn")
    assert waited.returncode == 0, waited.stderr
    payload = tmp_path / "event.json"
    payload.write_text('{"hello": "world"}')
    outfile = tmp_path / "out.json"
    invoked = aws(server, "invoke", "--function-name", "cli-fn", "--payload", f"fileb://{payload}", str(outfile))
    assert invoked.returncode == 0, invoked.stderr
    printed = json.loads(invoked.stdout)
    assert printed == {"StatusCode": 200, "ExecutedVersion": "$LATEST"}
    assert json.loads(outfile.read_text()) == {"got": {"hello": "world"}, "version": "$LATEST"}
    deleted = aws(server, "delete-function", "--function-name", "cli-fn")
    assert deleted.returncode == 0, deleted.stderr
    gone = aws(server, "get-function", "--function-name", "cli-fn")
    assert gone.returncode == SERVICE_ERROR_EXIT
    assert ("An error occurred (ResourceNotFoundException) when calling the GetFunction operation: "
            "Function not found: arn:aws:lambda:us-east-1:123456789012:function:cli-fn") in gone.stderr


def test_aws_cli_against_require_auth(auth_server) -> None:
    from .conftest import ACCESS_KEY, SECRET_KEY

    assert aws(auth_server, "list-functions", access_key=ACCESS_KEY, secret=SECRET_KEY).returncode == 0
    refused = aws(auth_server, "list-functions", access_key=ACCESS_KEY, secret="wrong")
    assert refused.returncode == SERVICE_ERROR_EXIT and "InvalidSignatureException" in refused.stderr
