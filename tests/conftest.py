from __future__ import annotations

from pathlib import Path

import pytest

from lambdactl.errors import LambdaError
from lambdactl.service import Service
from lambdactl.settings import Settings

from .helpers import ROLE, make_zip


@pytest.fixture
def home(tmp_path: Path) -> Path:
    h = tmp_path / "home"
    h.mkdir()
    return h


@pytest.fixture
def svc(home: Path) -> Service:
    service = Service(Settings.load(home))
    yield service
    service.close()


@pytest.fixture
def zip_path(tmp_path: Path) -> Path:
    p = tmp_path / "code.zip"
    p.write_bytes(make_zip())
    return p


def create(svc: Service, name: str = "f", **overrides: object) -> dict:
    request = {
        "FunctionName": name,
        "Runtime": "python3.12",
        "Role": ROLE,
        "Handler": "app.handler",
        "Code": {"ZipFile": make_zip()},
    }
    request.update(overrides)
    return svc.call("CreateFunction", request)


@pytest.fixture
def server(home: Path):
    """A real `lambdactl serve` on a free loopback port, stopped (SIGTERM) after the test."""
    import json
    import signal
    import subprocess

    from .helpers import console_script

    proc = subprocess.Popen(
        [console_script(), "serve", "--port", "0", "--home", str(home)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        raise RuntimeError(f"server did not start: {proc.stderr.read() if proc.stderr else ''}")
    info = json.loads(line)
    info["proc"] = proc
    info["home"] = str(home)
    yield info
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            raise


@pytest.fixture
def lam(server):
    """A boto3 Lambda client pointed at the test server (no retries, dummy credentials)."""
    boto3 = pytest.importorskip("boto3")
    from botocore.config import Config

    return boto3.client(
        "lambda",
        endpoint_url=server["url"],
        region_name="us-east-1",
        aws_access_key_id="AKIDLOCAL",
        aws_secret_access_key="local-secret",
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=120),
    )
def error_of(svc: Service, op: str, request: dict) -> LambdaError:
    """The LambdaError a call must raise."""
    with pytest.raises(LambdaError) as info:
        svc.call(op, request)
    return info.value
