"""Building zips: layout, exclusions, modes, determinism, large files, layers, pip dependencies."""

from __future__ import annotations

import hashlib
import os
import random
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from zipkit import wheel

from lambdactl.packaging import build
from lambdactl.packaging.build import PackagingError, build_zip, package, package_layer
from lambdactl.packaging.lint import lint_zip


def make_tree(root: Path, *, reverse: bool = False, seed: int = 0) -> Path:
    """A small function tree with the usual litter; `reverse` creates files in the other order."""
    rng = random.Random(seed)
    files: list[tuple[str, bytes, int]] = [
        ("app.py", b"def handler(event, context):\n    return 1\n", 0o644),
        ("lib/__init__.py", b"", 0o644),
        ("lib/util.py", b"VALUE = 42\n" * 200, 0o600),
        ("lib/data/blob.bin", bytes(rng.randrange(256) for _ in range(5000)), 0o640),
        ("bin/tool", b"#!/bin/sh\necho hi\n", 0o700),
        ("bootstrap", b"#!/bin/sh\nexec python3 app.py\n", 0o644),
        ("caf\u00e9.txt", "caf\u00e9".encode(), 0o644),
        ("lib/__pycache__/util.cpython-312.pyc", b"\0" * 30, 0o644),
        ("lib/old.pyc", b"\0" * 30, 0o644),
        (".git/HEAD", b"ref: refs/heads/main\n", 0o644),
        (".DS_Store", b"\0\0\0\1Bud1", 0o644),
        (".venv/pyvenv.cfg", b"home = /usr/bin\n", 0o644),
        (".venv/lib/site.py", b"x = 1\n", 0o644),
        ("empty.txt", b"", 0o644),
    ]
    for rel, data, mode in (reversed(files) if reverse else files):
        p = root / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(data)
        os.chmod(p, mode)
    return root


EXPECTED_NAMES = ["app.py", "bin/", "bin/tool", "bootstrap", "caf\u00e9.txt", "empty.txt", "lib/",
                  "lib/__init__.py", "lib/data/", "lib/data/blob.bin", "lib/util.py"]


def test_layout_excludes_and_modes(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    summary = build_zip(src, tmp_path / "out.zip")
    with zipfile.ZipFile(tmp_path / "out.zip") as zf:
        infos = {i.filename: i for i in zf.infolist()}
        assert list(infos) == EXPECTED_NAMES
        assert zf.testzip() is None
        assert zf.read("lib/util.py") == b"VALUE = 42\n" * 200
    modes = {n: i.external_attr >> 16 for n, i in infos.items()}
    assert modes["app.py"] == 0o100644
    assert modes["lib/util.py"] == 0o100644  # 0600 would be unreadable on Lambda
    assert modes["bin/tool"] == 0o100755
    assert modes["bootstrap"] == 0o100755  # always executable
    assert modes["lib/"] == 0o040755
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in infos.values())
    assert all(i.extra == b"" and i.create_system == 3 for i in infos.values())
    assert summary.files == 8 and summary.directories == 3
    assert summary.zipped_bytes == (tmp_path / "out.zip").stat().st_size
    assert summary.largest[0] == ("lib/data/blob.bin", 5000)


def test_built_zip_lints_clean(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    build_zip(src, tmp_path / "out.zip")
    report = lint_zip(tmp_path / "out.zip", runtime="python3.12", handler="app.handler")
    assert report.findings == []


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_byte_identical_twice_and_from_a_scrambled_copy(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    build_zip(src, tmp_path / "a.zip")
    build_zip(src, tmp_path / "b.zip")
    assert _digest(tmp_path / "a.zip") == _digest(tmp_path / "b.zip")

    # Same content, created in the other order, other mtimes, other non-executable modes.
    other = make_tree(tmp_path / "elsewhere" / "copy", reverse=True)
    for p in sorted(other.rglob("*")):
        os.utime(p, (random.randrange(10**9), random.randrange(10**9)))
        if p.is_file() and not os.stat(p).st_mode & 0o111:
            os.chmod(p, random.choice([0o600, 0o644, 0o664, 0o444]))
    build_zip(other, tmp_path / "c.zip")
    assert _digest(tmp_path / "a.zip") == _digest(tmp_path / "c.zip")


def test_source_date_epoch(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    src = make_tree(tmp_path / "src")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "1700000000")  # 2023-11-14 22:13:20 UTC
    build_zip(src, tmp_path / "a.zip")
    with zipfile.ZipFile(tmp_path / "a.zip") as zf:
        assert zf.infolist()[0].date_time == (2023, 11, 14, 22, 13, 20)
    build_zip(src, tmp_path / "b.zip")
    assert _digest(tmp_path / "a.zip") == _digest(tmp_path / "b.zip")
    monkeypatch.setenv("SOURCE_DATE_EPOCH", "soon")
    with pytest.raises(PackagingError):
        build_zip(src, tmp_path / "c.zip")


def test_user_excludes(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    build_zip(src, tmp_path / "out.zip", excludes=["*.bin", "bin", "lib/util.py"])
    names = zipfile.ZipFile(tmp_path / "out.zip").namelist()
    assert "lib/data/blob.bin" not in names and "bin/" not in names and "bin/tool" not in names
    assert "lib/util.py" not in names and "lib/__init__.py" in names


def test_output_inside_source_is_not_packaged(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    build_zip(src, src / "out.zip")
    build_zip(src, src / "out.zip")
    assert "out.zip" not in zipfile.ZipFile(src / "out.zip").namelist()
    assert not [p for p in src.iterdir() if p.name.endswith(".tmp")]


def test_large_file_is_chunked_and_valid(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A file over several chunks, with a small in-flight window, still inflates to itself."""
    monkeypatch.setattr(build, "MAX_IN_FLIGHT_BYTES", 1 << 20)
    rng = random.Random(3)
    big = b"".join(rng.randbytes(300_000) + b"lambda " * 60_000 for _ in range(6))
    src = tmp_path / "src"
    src.mkdir()
    (src / "big.dat").write_bytes(big)
    (src / "small.txt").write_text("x")
    for level in (0, 1, 9):
        out = tmp_path / f"l{level}.zip"
        build_zip(src, out, compresslevel=level)
        with zipfile.ZipFile(out) as zf:
            assert zf.read("big.dat") == big
            assert zf.testzip() is None
        if shutil.which("unzip"):
            subprocess.run(["unzip", "-tq", str(out)], check=True, capture_output=True)
        assert lint_zip(out, deep=True).findings == []  # chunked deflate stays within its bound


def test_symlinks_inside_are_stored_as_content(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    os.symlink("util.py", src / "lib" / "alias.py")
    os.symlink("lib", src / "libdir")
    build_zip(src, tmp_path / "out.zip")
    with zipfile.ZipFile(tmp_path / "out.zip") as zf:
        assert zf.read("lib/alias.py") == zf.read("lib/util.py")
        assert zf.read("libdir/util.py") == zf.read("lib/util.py")
        assert all(not (i.external_attr >> 16) & 0o020000 for i in zf.infolist())


@pytest.mark.parametrize("target", ["../outside.txt", "/etc/hostname"])
def test_symlink_leaving_the_tree_is_refused(tmp_path: Path, target: str) -> None:
    src = make_tree(tmp_path / "src")
    (tmp_path / "outside.txt").write_text("secret")
    os.symlink(target, src / "leak.txt")
    with pytest.raises(PackagingError, match="outside the source tree"):
        build_zip(src, tmp_path / "out.zip")
    assert not (tmp_path / "out.zip").exists()
    build_zip(src, tmp_path / "out.zip", excludes=["leak.txt"])


def test_symlink_loop_and_dangling_are_refused(tmp_path: Path) -> None:
    src = make_tree(tmp_path / "src")
    os.symlink("..", src / "lib" / "up")
    with pytest.raises(PackagingError, match="loop"):
        build_zip(src, tmp_path / "out.zip")
    os.unlink(src / "lib" / "up")
    os.symlink("nowhere", src / "dangling")
    with pytest.raises(PackagingError, match="dangling"):
        build_zip(src, tmp_path / "out.zip")


def test_non_utf8_file_name_is_refused(tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    try:
        (src / os.fsdecode(b"bad\xff.txt")).write_text("x")
    except (OSError, UnicodeEncodeError):
        pytest.skip("file system refuses non-UTF-8 names")
    with pytest.raises(PackagingError, match="UTF-8"):
        build_zip(src, tmp_path / "out.zip")


def test_layer_layouts(tmp_path: Path) -> None:
    src = tmp_path / "mylib"
    (src / "mylib").mkdir(parents=True)
    (src / "mylib" / "__init__.py").write_text("X = 1\n")
    package_layer(src, tmp_path / "py.zip", runtime="python3.12")
    assert zipfile.ZipFile(tmp_path / "py.zip").namelist() == [
        "python/", "python/mylib/", "python/mylib/__init__.py"]

    node = tmp_path / "node"
    (node / "left-pad").mkdir(parents=True)
    (node / "left-pad" / "index.js").write_text("module.exports = 1\n")
    package_layer(node, tmp_path / "node.zip", runtime="nodejs22.x")
    assert "nodejs/node_modules/left-pad/index.js" in zipfile.ZipFile(tmp_path / "node.zip").namelist()

    laid_out = tmp_path / "laid"
    (laid_out / "bin").mkdir(parents=True)
    (laid_out / "bin" / "jq").write_bytes(b"\x7fELF")
    package_layer(laid_out, tmp_path / "bin.zip")
    assert zipfile.ZipFile(tmp_path / "bin.zip").namelist() == ["bin/", "bin/jq"]

    (laid_out / "stray.txt").write_text("x")
    with pytest.raises(PackagingError, match="not a layer folder"):
        package_layer(laid_out, tmp_path / "bad.zip")
    package_layer(laid_out, tmp_path / "lib.zip", prefix="lib")
    assert "lib/stray.txt" in zipfile.ZipFile(tmp_path / "lib.zip").namelist()


# ---------------------------------------------------------------- pip


@pytest.fixture
def wheelhouse(tmp_path: Path) -> Path:
    dist = tmp_path / "wheels"
    wheel(dist, "tinydep", "py3-none-any", "tinydep/__init__.py", b"VALUE = 1\n")
    wheel(dist, "tinynative", "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64",
           "tinynative/_core.cpython-312-x86_64-linux-gnu.so", b"\x7fELF" + b"\0" * 60)
    return dist


def test_pip_command_targets_the_runtime() -> None:
    cmd = build.pip_command(Path("r.txt"), Path("t"), runtime="python3.12", architecture="arm64")
    assert cmd[:4] == [sys.executable, "-m", "pip", "install"]
    assert "--only-binary=:all:" in cmd and cmd[cmd.index("--python-version") + 1] == "3.12"
    platforms = [cmd[i + 1] for i, a in enumerate(cmd) if a == "--platform"]
    assert "manylinux2014_aarch64" in platforms and "manylinux_2_34_aarch64" in platforms
    assert not any("x86_64" in p for p in platforms)
    al2 = build.pip_platforms("python3.11", "x86_64")
    assert "manylinux_2_26_x86_64" in al2 and "manylinux_2_28_x86_64" not in al2
    with pytest.raises(PackagingError):
        build.pip_platforms("nodejs22.x", "x86_64")


def test_requirements_are_installed_for_the_target(tmp_path: Path, wheelhouse: Path) -> None:
    src = make_tree(tmp_path / "src")
    req = tmp_path / "requirements.txt"
    req.write_text("tinydep\ntinynative\n")
    offline = ["--no-index", "--find-links", str(wheelhouse)]
    summary = package(src, tmp_path / "out.zip", requirements=req, runtime="python3.12",
                      pip_args=offline)
    names = zipfile.ZipFile(tmp_path / "out.zip").namelist()
    assert "tinydep/__init__.py" in names and "app.py" in names
    assert "tinynative/_core.cpython-312-x86_64-linux-gnu.so" in names
    assert summary.files > 8

    with pytest.raises(PackagingError, match="pip could not install"):
        package(src, tmp_path / "arm.zip", requirements=req, runtime="python3.12",
                architecture="arm64", pip_args=offline)
    assert not (tmp_path / "arm.zip").exists()

    package_layer(tmp_path / "src" / "lib", tmp_path / "layer.zip", requirements=req,
                  runtime="python3.12", pip_args=offline)
    layer_names = zipfile.ZipFile(tmp_path / "layer.zip").namelist()
    assert "python/lib/python3.12/site-packages/tinydep/__init__.py" in layer_names
    assert "python/util.py" in layer_names


def test_more_than_65535_entries_uses_zip64(tmp_path: Path) -> None:
    """The end record counts entries in 16 bits; past that the ZIP64 records must carry them."""
    items = [build._Item(f"d{i:05d}/", None, 0, 0o755) for i in range(70_000)]
    build.write_zip(items, tmp_path / "many.zip")
    data = (tmp_path / "many.zip").read_bytes()
    assert b"PK\x06\x06" in data[-200:]
    with zipfile.ZipFile(tmp_path / "many.zip") as zf:
        assert len(zf.infolist()) == 70_000
    assert lint_zip(tmp_path / "many.zip").findings == []


def test_stored_output_matches_the_recorded_bytes(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    """Level 0 involves no zlib, so its bytes are the format itself: any change to headers,
    order, modes or times shows here, on every machine. (Deflated bytes also depend on the
    zlib build, e.g. zlib-ng, so they are compared within one machine above.)"""
    monkeypatch.delenv("SOURCE_DATE_EPOCH", raising=False)
    src = make_tree(tmp_path / "src")
    build_zip(src, tmp_path / "out.zip", compresslevel=0)
    assert _digest(tmp_path / "out.zip") == GOLDEN_STORED_SHA256


GOLDEN_STORED_SHA256 = "ed3151679139bff4e880eb4ac7665dbf0c3c9d653013ae4f9f4342595925eb5e"
