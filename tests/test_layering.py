"""Imports point downwards: every import of every module (top-level, inside functions, under
TYPE_CHECKING) is read with ast, and an arrow that runs up or sideways between faces fails.

Faces: `cli` and `server` translate for the outside; `protocol` is the wire both share; below
them `service`, and below it `registry`, `runtime` and `packaging`; the neutral modules
(`errors`, `limits`, `models`, `settings`, `sigv4`, ...) sit at the bottom. The CLI may start
the server, from `cli/serve_cmds.py` only. The bootstraps run inside the sandbox and import only
the standard library.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

import lambdactl

ROOT = Path(lambdactl.__file__).parent
FACES = {"cli", "server"}
BELOW_SERVICE = {"registry", "runtime", "packaging"}
ALLOWED = {("lambdactl.cli.serve_cmds", "server")}  # `lambdactl serve` starts the server


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports(source: str, name: str, is_package: bool) -> list[tuple[int, str]]:
    """(line, absolute module) of every import in `source`, wherever it stands."""
    found: list[tuple[int, str]] = []
    package = name if is_package else name.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[: len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from . import x` names a module as often as a name: count both.
            found.append((node.lineno, target))
            found += [(node.lineno, f"{target}.{alias.name}") for alias in node.names]
    return found


def layer(module: str) -> str | None:
    """The part of lambdactl a module belongs to (None: not lambdactl)."""
    parts = module.split(".")
    if parts[0] != "lambdactl":
        return None
    if len(parts) == 1:
        return "neutral"
    if parts[1] == "__main__":
        return "cli"  # `python -m lambdactl` is the CLI's entry
    sub = parts[1]
    return sub if (ROOT / sub).is_dir() else "neutral"


def violations(name: str, found: list[tuple[int, str]]) -> list[str]:
    mine = layer(name)
    bad = []
    for line, target in found:
        theirs = layer(target)
        if theirs is None or theirs == mine or (name, theirs) in ALLOWED:
            continue
        wrong = (
            (mine in FACES and theirs in FACES)  # cli <-> server
            or (mine in {"service", "protocol", "neutral", *BELOW_SERVICE} and theirs in FACES)
            or (mine in {"service", "neutral", *BELOW_SERVICE} and theirs == "protocol")
            or (mine in {"neutral", *BELOW_SERVICE} and theirs == "service")
        )
        if wrong:
            bad.append(f"{name}:{line} imports {target} ({mine} -> {theirs})")
    return bad


def all_modules() -> list[Path]:
    return sorted(p for p in ROOT.rglob("*.py") if "bootstraps" not in p.parts)


def test_no_import_runs_up_or_sideways() -> None:
    bad: list[str] = []
    for path in all_modules():
        name = module_name(path)
        bad += violations(name, imports(path.read_text(), name, path.name == "__init__.py"))
    assert not bad, "\n".join(bad)


def test_bootstraps_import_only_the_standard_library() -> None:
    paths = sorted((ROOT / "runtime" / "bootstraps").glob("*.py"))
    assert paths
    for path in paths:
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                assert node.level == 0, f"{path.name}:{node.lineno} relative import"
                names = [node.module or ""]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            for n in names:
                assert n.split(".")[0] in sys.stdlib_module_names, f"{path.name}:{node.lineno} imports {n}"


@pytest.mark.parametrize(("name", "source", "caught"), [
    ("lambdactl.server.core", "def f():\n    from ..cli._spec import implemented_operations\n", True),
    ("lambdactl.cli._remote", "from ..server import rest\n", True),
    ("lambdactl.cli.serve_cmds", "def f():\n    from ..server.core import LambdaServer\n", False),
    ("lambdactl.service.invoke", "if TYPE_CHECKING:\n    from ..server.pool import WarmPool\n", True),
    ("lambdactl.service.urls", "from .functions import arn\n", False),
    ("lambdactl.runtime", "from . import api\nfrom lambdactl.service import Service\n", True),
    ("lambdactl.errors", "import lambdactl.cli.main\n", True),
    ("lambdactl.protocol.rest_json", "from ..service import OPERATIONS\n", False),
])
def test_the_walk_sees_lazy_and_relative_imports(name: str, source: str, caught: bool) -> None:
    found = imports(source, name, name.count(".") == 1 and name != "lambdactl.errors")
    assert bool(violations(name, found)) is caught
