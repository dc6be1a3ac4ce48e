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


def start_server(home: Path, *extra: str, credentials: dict[str, str] | None = None):
    """A real `lambdactl serve` on a free loopback port, stopped (SIGTERM) when the generator ends.

    `credentials` go to config.toml's [server.credentials] before the server starts.
    """
    import json
    import signal
    import subprocess

    from lambdactl.settings import load_config, write_config

    from .helpers import console_script

    if credentials is not None:
        config = load_config(home)
        config.setdefault("server", {})["credentials"] = credentials
        write_config(home, config)
    # stderr to a file, never an unread pipe: a server blocked writing to a full pipe cannot stop.
    errors = home / "server.stderr"
    proc = subprocess.Popen(
        [console_script(), "serve", "--port", "0", "--home", str(home), *extra],
        stdout=subprocess.PIPE, stderr=open(errors, "wb"), text=True,  # noqa: SIM115
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=30)
        raise RuntimeError(f"server did not start: {errors.read_text(errors='replace')}")
    info = json.loads(line)
    info["proc"] = proc
    info["home"] = str(home)
    try:
        yield info
    finally:  # also when the generator is closed rather than run to its end
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                raise AssertionError(f"server did not stop on SIGTERM: {errors.read_text(errors='replace')[-4000:]}") from None


# The access key the keyed servers below accept, and its secret.
ACCESS_KEY = "AKIDLOCALTEST"
SECRET_KEY = "local-test-secret"


@pytest.fixture
def server(home: Path):
    """A real `lambdactl serve` on a free loopback port, stopped (SIGTERM) after the test."""
    yield from start_server(home)


@pytest.fixture
def keyed_server(home: Path):
    """A server that knows one access key (for AWS_IAM function URLs) but accepts unsigned REST calls."""
    yield from start_server(home, credentials={ACCESS_KEY: SECRET_KEY})


@pytest.fixture
def auth_server(home: Path):
    """`lambdactl serve --require-auth` accepting only ACCESS_KEY."""
    yield from start_server(home, "--require-auth", credentials={ACCESS_KEY: SECRET_KEY})


def boto_lambda(url: str, access_key: str = "AKIDLOCAL", secret: str = "local-secret"):
    """A boto3 Lambda client for `url` (no retries)."""
    boto3 = pytest.importorskip("boto3")
    from botocore.config import Config

    return boto3.client(
        "lambda",
        endpoint_url=url,
        region_name="us-east-1",
        aws_access_key_id=access_key,
        aws_secret_access_key=secret,
        config=Config(retries={"max_attempts": 1, "mode": "standard"}, read_timeout=120),
    )


@pytest.fixture
def lam(server):
    """A boto3 Lambda client pointed at the test server (no retries, dummy credentials)."""
    return boto_lambda(server["url"])


def error_of(svc: Service, op: str, request: dict) -> LambdaError:
    """The LambdaError a call must raise."""
    with pytest.raises(LambdaError) as info:
        svc.call(op, request)
    return info.value
