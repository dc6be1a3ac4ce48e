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


def error_of(svc: Service, op: str, request: dict) -> LambdaError:
    """The LambdaError a call must raise."""
    with pytest.raises(LambdaError) as info:
        svc.call(op, request)
    return info.value
