"""Fixtures for the packaging tests.

`run_cli` is the one way tests run the CLI, so pointing it at the installed `lambdactl` script
later changes every CLI test at once. Zip-writing helpers live in `zipkit.py`.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str

    @property
    def json(self) -> object:
        return json.loads(self.stdout)


RunCli = Callable[..., Result]


@pytest.fixture
def run_cli() -> RunCli:
    """Run the packaging commands in a subprocess, as a user or a Makefile would."""

    def run(*args: str | os.PathLike[str], env: dict[str, str] | None = None,
            cwd: Path | None = None) -> Result:
        full_env = dict(os.environ)
        full_env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), full_env.get("PYTHONPATH")]))
        full_env.update(env or {})
        proc = subprocess.run(
            [sys.executable, "-m", "lambdactl.cli.packaging_cmds", *map(str, args)],
            capture_output=True, text=True, env=full_env, cwd=cwd, timeout=120)
        return Result(proc.returncode, proc.stdout, proc.stderr)

    return run


