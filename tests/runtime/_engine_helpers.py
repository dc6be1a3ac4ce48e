"""Helpers shared by the execution engine tests: zips built in the test, runtime lookup, sweeps."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import time
import zipfile
from collections.abc import Mapping
from pathlib import Path

import pytest

from lambdactl.errors import LambdaError
from lambdactl.runtime.codecache import ensure_extracted
from lambdactl.runtime.discovery import RuntimeInfo, find_runtime
from lambdactl.runtime.supervisor import pids_with_marker

PYTHON_IDS = ["python3.10", "python3.11", "python3.12", "python3.13", "python3.14"]
NODE_IDS = ["nodejs20.x", "nodejs22.x", "nodejs24.x"]
ACCOUNT = "123456789012"
# The runtime of tests that are not about a Python version (override to run them elsewhere).
DEFAULT_PYTHON = os.environ.get("LAMBDACTL_TEST_PYTHON", "python3.12")
DEFAULT_MINOR = DEFAULT_PYTHON.removeprefix("python")

Files = Mapping[str, "str | bytes | tuple[str | bytes, int]"]


def build_zip(files: Files) -> bytes:
    """A deployment zip; a (content, mode) tuple sets the Unix mode (e.g. 0o755 for bootstrap)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, value in files.items():
            content, mode = value if isinstance(value, tuple) else (value, 0o644)
            info = zipfile.ZipInfo(name, date_time=(2024, 1, 1, 0, 0, 0))
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, content.encode() if isinstance(content, str) else content)
    return buf.getvalue()


def extract(cache: Path, files: Files) -> Path:
    data = build_zip(files)
    digest = hashlib.sha256(data).hexdigest()
    zpath = cache / f"{digest}.zip"
    zpath.write_bytes(data)
    return ensure_extracted(cache / "trees", digest, zpath)


def runtime_or_skip(runtime: str) -> RuntimeInfo:
    try:
        return find_runtime(runtime)
    except LambdaError as e:
        pytest.skip(f"{runtime} is not installed here: {e.message}")


def wait_gone(marker: str, timeout_s: float = 5.0) -> list[int]:
    deadline = time.monotonic() + timeout_s
    while True:
        left = pids_with_marker(marker)
        if not left or time.monotonic() > deadline:
            return left
        time.sleep(0.02)


def python_ids() -> list[str]:
    return PYTHON_IDS


def host_python_under_usr() -> RuntimeInfo | None:
    """A Python installed under /usr (visible inside the sandbox without a bind).

    Asked for by path: discovery prefers pyenv/uv interpreters, which live outside /usr.
    """
    for rt in reversed(PYTHON_IDS + ["python3.9"]):
        candidate = f"/usr/bin/{rt}"
        if not os.path.exists(candidate):
            continue
        try:
            info = find_runtime(rt, {rt: candidate})
        except LambdaError:
            continue
        if info.prefix is None:
            return info
    return None


def cpu_count() -> int:
    return os.cpu_count() or 1
