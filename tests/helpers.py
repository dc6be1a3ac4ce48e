"""Small helpers shared by the tests: run the installed console script, build zips."""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROLE = "arn:aws:iam::123456789012:role/lambda-role"


def console_script() -> str:
    """The installed `lambdactl` next to the running interpreter (the one under test)."""
    candidate = Path(sys.executable).parent / "lambdactl"
    if candidate.exists():
        return str(candidate)
    found = shutil.which("lambdactl")
    if not found:
        raise RuntimeError("the lambdactl console script is not installed; run pip install -e '.[test]'")
    return found


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> Any:
        return json.loads(self.stdout) if self.stdout.strip() else None


def run_cli(*args: str, home: Path | str | None = None, input: str | None = None, env: dict[str, str] | None = None, timeout: float = 120) -> Result:
    full_env = dict(os.environ)
    if home is not None:
        full_env["LAMBDACTL_HOME"] = str(home)
    full_env.update(env or {})
    proc = subprocess.run(
        [console_script(), *args], capture_output=True, text=True, input=input, env=full_env, timeout=timeout
    )
    return Result(proc.returncode, proc.stdout, proc.stderr)


def make_zip(files: dict[str, str | bytes] | None = None) -> bytes:
    files = files or {"app.py": "def handler(event, context):\n    return event\n"}
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, content in files.items():
            info = zipfile.ZipInfo(name, date_time=(2020, 1, 1, 0, 0, 0))
            info.external_attr = 0o100644 << 16
            zf.writestr(info, content)
    return buf.getvalue()


def create_args(name: str, zip_path: Path, *extra: str) -> list[str]:
    return [
        "create-function", "--function-name", name, "--runtime", "python3.12",
        "--handler", "app.handler", "--role", ROLE, "--zip-file", f"fileb://{zip_path}", *extra,
    ]
