"""Functions run from a folder (`--code-dir`): a saved change is what the next invocation runs,
directly and through a warm server."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from .helpers import ROLE, run_cli


def write(folder: Path, text: str) -> None:
    path = folder / "app.py"
    path.write_text(text)
    # Make the change visible to an mtime check even within one clock tick.
    st = path.stat()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns + 1_000_000))


def make(home: Path, folder: Path, version: str = "1") -> None:
    folder.mkdir(exist_ok=True)
    write(folder, f"COUNT = 0\ndef handler(e, c):\n    global COUNT\n    COUNT += 1\n    return {{'v': {version!r}, 'count': COUNT}}\n")
    r = run_cli("create-function", "--function-name", "dev", "--runtime", "python3.12", "--handler", "app.handler", "--role", ROLE, "--code-dir", str(folder), home=home)
    assert r.code == 0, r.stderr


def invoke(home: Path, tmp: Path) -> dict:
    out = tmp / "out.json"
    r = run_cli("invoke", "--function-name", "dev", str(out), home=home)
    assert r.code == 0, r.stderr
    return json.loads(out.read_bytes())


def test_code_dir_direct(home: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    make(home, src)
    assert invoke(home, tmp_path)["v"] == "1"
    write(src, "def handler(e, c):\n    return {'v': '2'}\n")
    assert invoke(home, tmp_path)["v"] == "2"
    got = run_cli("get-function", "--function-name", "dev", home=home).json
    assert got["Code"] == {"RepositoryType": "Directory", "Location": str(src)}
    # publish-version freezes the folder as it is now.
    assert run_cli("publish-version", "--function-name", "dev", home=home).json["Version"] == "1"
    write(src, "def handler(e, c):\n    return {'v': '3'}\n")
    out = tmp_path / "o"
    run_cli("invoke", "--function-name", "dev", "--qualifier", "1", str(out), home=home)
    assert json.loads(out.read_bytes())["v"] == "2"
    assert invoke(home, tmp_path)["v"] == "3"


def test_code_dir_errors(home: Path, tmp_path: Path, zip_path: Path) -> None:
    r = run_cli("create-function", "--function-name", "x", "--runtime", "python3.12", "--handler", "app.handler", "--role", ROLE, "--code-dir", str(tmp_path / "missing"), home=home)
    assert r.code == 254 and "does not exist or is not a directory" in r.stderr
    src = tmp_path / "s"
    make(home, src)
    r = run_cli("update-function-code", "--function-name", "dev", "--code-dir", str(src), "--zip-file", f"fileb://{zip_path}", home=home)
    assert r.code == 254 and "not both" in r.stderr
    # Switching to a zip ends the folder link.
    assert run_cli("update-function-code", "--function-name", "dev", "--zip-file", f"fileb://{zip_path}", home=home).code == 0
    assert run_cli("get-function", "--function-name", "dev", home=home).json["Code"]["RepositoryType"] == "S3"


def test_code_dir_through_the_server(server, home: Path, tmp_path: Path) -> None:
    src = tmp_path / "src"
    make(home, src)
    assert invoke(home, tmp_path) == {"v": "1", "count": 1}
    assert invoke(home, tmp_path) == {"v": "1", "count": 2}  # warm
    write(src, "def handler(e, c):\n    return {'v': '2', 'count': 0}\n")
    started = time.monotonic()
    assert invoke(home, tmp_path)["v"] == "2"  # no restart, no redeploy
    assert time.monotonic() - started < 10
