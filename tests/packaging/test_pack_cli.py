"""The commands end to end, in a subprocess: exit statuses, stdout/stderr split, formats."""

from __future__ import annotations

import json
import os
import zipfile
from pathlib import Path

from zipkit import F, make_zip, wheel, write

APP = "def handler(event, context):\n    return 1\n"


def _src(tmp_path: Path) -> Path:
    src = tmp_path / "src"
    (src / "lib").mkdir(parents=True)
    (src / "app.py").write_text(APP)
    (src / "lib" / "util.py").write_text("X = 1\n" * 100)
    (src / "notes.md").write_text("x")
    return src


def test_package_json_on_stdout_summary_on_stderr(run_cli, tmp_path: Path) -> None:
    src = _src(tmp_path)
    res = run_cli("package", src, "-o", tmp_path / "out.zip", "--exclude", "*.md", "--output", "json")
    assert res.code == 0, res.stderr
    doc = res.json
    assert doc["Files"] == 2 and doc["Directories"] == 1  # type: ignore[index]
    assert doc["ZippedBytes"] == (tmp_path / "out.zip").stat().st_size  # type: ignore[index]
    assert doc["Largest"][0]["Name"] == "lib/util.py"  # type: ignore[index]
    assert "2 files" in res.stderr and "lib/util.py" in res.stderr
    assert zipfile.ZipFile(tmp_path / "out.zip").namelist() == ["app.py", "lib/", "lib/util.py"]


def test_package_text_keeps_stdout_empty(run_cli, tmp_path: Path) -> None:
    res = run_cli("package", _src(tmp_path), "-o", tmp_path / "out.zip", "--compression-level", "9")
    assert res.code == 0 and res.stdout == ""
    assert "3 files" in res.stderr


def test_package_errors(run_cli, tmp_path: Path) -> None:
    src = _src(tmp_path)
    assert run_cli("package", tmp_path / "nope", "-o", tmp_path / "o.zip").code == 2
    assert run_cli("package", src, "-o", tmp_path / "o.zip", "--compression-level", "12").code == 2
    assert run_cli("package", src).code == 2  # -o is required
    (tmp_path / "adir.zip").mkdir()
    res = run_cli("package", src, "-o", tmp_path / "adir.zip")
    assert res.code == 1 and "Traceback" not in res.stderr
    os.symlink("/etc/hostname", src / "leak")
    res = run_cli("package", src, "-o", tmp_path / "o.zip")
    assert res.code == 1 and "outside the source tree" in res.stderr
    assert not (tmp_path / "o.zip").exists()


def test_package_requirements_offline(run_cli, tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheel(wheels, "tinydep", "py3-none-any", "tinydep/__init__.py", b"VALUE = 1\n")
    req = write(tmp_path / "requirements.txt", b"tinydep\n")
    env = {"PIP_NO_INDEX": "1", "PIP_FIND_LINKS": str(wheels)}
    res = run_cli("package", _src(tmp_path), "-o", tmp_path / "out.zip", "--requirements", req,
                  "--runtime", "python3.13", "--architecture", "arm64", env=env)
    assert res.code == 0, res.stderr
    assert "tinydep/__init__.py" in zipfile.ZipFile(tmp_path / "out.zip").namelist()
    res = run_cli("package", _src(tmp_path / "b"), "-o", tmp_path / "o2.zip", "--requirements", req,
                  env=env)
    assert res.code == 1 and "--runtime" in res.stderr


def test_package_layer(run_cli, tmp_path: Path) -> None:
    res = run_cli("package-layer", _src(tmp_path), "-o", tmp_path / "layer.zip",
                  "--runtime", "python3.12", "--output", "json")
    assert res.code == 0, res.stderr
    names = zipfile.ZipFile(tmp_path / "layer.zip").namelist()
    assert names[:2] == ["python/", "python/app.py"]


def test_lint_exit_statuses(run_cli, tmp_path: Path) -> None:
    clean = write(tmp_path / "clean.zip", make_zip([F("app.py", APP)]))
    warn = write(tmp_path / "warn.zip", make_zip([F("app.py", APP), F(".env", "A=1")]))
    bad = write(tmp_path / "bad.zip", make_zip([F("main.py", APP)]))
    py = ["--runtime", "python3.12", "--handler", "app.handler"]

    res = run_cli("lint", clean, *py)
    assert (res.code, res.stdout) == (0, "no problems found\n")
    res = run_cli("lint", warn, *py)
    assert res.code == 0 and "LZ062 [warning]" in res.stdout
    res = run_cli("lint", bad, *py)
    assert res.code == 1 and "LZ021 [error]" in res.stdout and "fix:" in res.stdout
    assert run_cli("lint", bad, *py, "--ignore", "LZ021").code == 0
    assert run_cli("lint", tmp_path / "missing.zip").code == 2
    assert run_cli("lint", clean, "--layers", tmp_path / "missing.zip").code == 2
    assert run_cli("lint", clean, "--output", "xml").code == 2
    assert run_cli("lint", clean, "--architecture", "sparc").code == 2
    res = run_cli("lint", clean, "--select", "LZ999")
    assert res.code == 2 and "unknown rule code" in res.stderr
    assert run_cli("lint", write(tmp_path / "junk.zip", b"junk")).code == 1


def test_lint_json_and_sarif(run_cli, tmp_path: Path) -> None:
    bad = write(tmp_path / "bad.zip", make_zip([F("app.py", APP, 0o600), F(".env", "A=1")]))
    layer = write(tmp_path / "layer.zip", make_zip([F("python/../x.py", "x")]))
    res = run_cli("lint", bad, "--layers", layer, "--output", "json")
    assert res.code == 1
    doc = res.json
    assert doc["Errors"] == 2 and doc["Warnings"] == 1  # type: ignore[index]
    assert {f["RuleId"] for f in doc["Findings"]} == {"LZ030", "LZ062", "LZ008"}  # type: ignore[index]

    res = run_cli("lint", bad, "--layers", layer, "--output", "sarif")
    sarif = json.loads(res.stdout)
    assert sarif["version"] == "2.1.0"
    run = sarif["runs"][0]
    rule_ids = [r["id"] for r in run["tool"]["driver"]["rules"]]
    assert sorted(rule_ids) == ["LZ008", "LZ030", "LZ062"]
    for result in run["results"]:
        assert rule_ids[result["ruleIndex"]] == result["ruleId"]
        assert result["level"] in ("error", "warning", "note")
    uris = {r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] for r in run["results"]}
    assert uris == {str(bad), str(layer)}


def test_commands_have_help(run_cli) -> None:
    for cmd in ("package", "package-layer", "lint"):
        res = run_cli(cmd, "--help")
        assert res.code == 0 and "--output" in res.stdout
