"""The code cache: one read-only tree per digest, nothing written outside it, layers merged."""

from __future__ import annotations

import hashlib
import io
import os
import stat
import threading
import zipfile
from pathlib import Path

import pytest
from _engine_helpers import build_zip

from lambdactl import _fstree
from lambdactl.errors import LambdaError
from lambdactl.packaging.validate import check_code_zip
from lambdactl.runtime.codecache import collect_trees, ensure_extracted, merge_layers


def put(tmp: Path, data: bytes) -> tuple[str, Path]:
    digest = hashlib.sha256(data).hexdigest()
    p = tmp / f"{digest}.zip"
    p.write_bytes(data)
    return digest, p


def raw_zip(entries: list[tuple[str, bytes, int]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, content, mode in entries:
            info = zipfile.ZipInfo(name)
            info.external_attr = mode << 16
            zf.writestr(info, content)
    return buf.getvalue()


def test_extract_once_read_only_with_exec_bit(tmp_path):
    digest, z = put(tmp_path, build_zip({"app.py": "x=1\n", "bin/tool": ("#!/bin/sh\n", 0o755),
                                         "pkg/data.txt": "d"}))
    cache = tmp_path / "cache"
    root = ensure_extracted(cache, digest, z)
    assert root == cache / digest
    assert (root / "app.py").read_text() == "x=1\n"
    assert stat.S_IMODE((root / "app.py").stat().st_mode) == 0o444
    assert stat.S_IMODE((root / "bin/tool").stat().st_mode) == 0o555
    assert stat.S_IMODE((root / "pkg").stat().st_mode) == 0o555
    assert stat.S_IMODE(root.stat().st_mode) == 0o555
    inode = (root / "app.py").stat().st_ino
    z.unlink()  # a second call does not even need the zip
    assert ensure_extracted(cache, digest, z) == root
    assert (root / "app.py").stat().st_ino == inode
    assert [p.name for p in cache.iterdir()] == [digest]  # no temp dirs left


@pytest.mark.parametrize("name", ["../evil.py", "a/../../evil.py", "/abs/evil.py", "C:/evil.py"])
def test_rejects_paths_outside(tmp_path, name):
    digest, z = put(tmp_path, raw_zip([(name, b"bad", stat.S_IFREG | 0o644)]))
    with pytest.raises(LambdaError) as e:
        ensure_extracted(tmp_path / "cache", digest, z)
    assert e.value.code == "InvalidZipFileException"
    assert not (tmp_path / "evil.py").exists() and not Path("/abs/evil.py").exists()
    assert list((tmp_path / "cache").iterdir()) == []


@pytest.mark.parametrize("target", [b"/etc/passwd", b"../../outside", b"sub/../../x"])
def test_rejects_escaping_symlinks(tmp_path, target):
    digest, z = put(tmp_path, raw_zip([("link", target, stat.S_IFLNK | 0o777)]))
    with pytest.raises(LambdaError, match="symbolic link"):
        ensure_extracted(tmp_path / "cache", digest, z)


def test_rejects_writing_through_a_symlink(tmp_path):
    # Even through a link that stays inside: the upload check refuses it too, so code that
    # was accepted always unpacks.
    outside = tmp_path / "outside"
    outside.mkdir()
    data = raw_zip([("sub/", b"", stat.S_IFDIR | 0o755),
                    ("lnk", b"sub", stat.S_IFLNK | 0o777),
                    ("lnk/ok.txt", b"inside", stat.S_IFREG | 0o644)])
    digest, z = put(tmp_path, data)
    with pytest.raises(LambdaError, match="written through a link") as e:
        ensure_extracted(tmp_path / "cache", digest, z)
    assert e.value.code == "InvalidZipFileException"
    with pytest.raises(LambdaError, match="written through a link"):
        check_code_zip(data)
    assert list(outside.iterdir()) == [] and list((tmp_path / "cache").iterdir()) == []


def test_abandoned_half_built_trees_are_swept(tmp_path):
    digest, z = put(tmp_path, build_zip({"app.py": "x=1\n"}))
    cache = tmp_path / "cache"
    old, other, recent = (cache / f".{digest[:16]}-killed", cache / ".0123456789abcdef-killed",
                          cache / f".{digest[:16]}-building")
    for d in (old, other, recent):
        (d / "pkg").mkdir(parents=True)
    os.utime(old, (0, 0))
    os.utime(other, (0, 0))  # another digest's, which may never be built again
    ensure_extracted(cache, digest, z)
    assert sorted(p.name for p in cache.iterdir()) == sorted([digest, recent.name])


def test_deeply_nested_tree_is_extracted_measured_and_removed(tmp_path):
    # Deeper than the recursion limit (1000), and a path that fits below the host cache directory:
    # os.makedirs, os.walk and shutil.rmtree recurse per level before Python 3.12.
    deep = "a/" * 1500 + "x"
    digest, z = put(tmp_path, build_zip({"app.py": "x=1\n", deep: "deep"}))
    check_code_zip(z.read_bytes())
    cache = tmp_path / "cache"
    try:
        root = ensure_extracted(cache, digest, z)
        assert (root / deep).read_text() == "deep"
        assert stat.S_IMODE((root / "a" / "a").stat().st_mode) == 0o555
        assert collect_trees(cache, keep=set()) == [(digest, len("x=1\n") + len("deep"))]
        assert list(cache.iterdir()) == []
    finally:
        _fstree.rmtree(cache, ignore_errors=True)  # pytest's own clean-up recurses per level


def test_zip_bomb_is_refused_by_real_size(tmp_path):
    digest, z = put(tmp_path, build_zip({"big.bin": b"\0" * (3 * 1024 * 1024)}))
    with pytest.raises(LambdaError, match="Unzipped size must be smaller than"):
        ensure_extracted(tmp_path / "cache", digest, z, max_bytes=1024 * 1024)
    assert list((tmp_path / "cache").iterdir()) == []


def test_concurrent_callers_get_one_complete_tree(tmp_path):
    files = {f"m{i}.py": f"v = {i}\n" * 200 for i in range(200)}
    digest, z = put(tmp_path, build_zip(files))
    cache = tmp_path / "cache"
    results, errors = [], []

    def go():
        try:
            results.append(ensure_extracted(cache, digest, z))
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=go) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors and len(set(results)) == 1
    assert len(list(results[0].iterdir())) == 200
    assert [p.name for p in cache.iterdir()] == [digest]


def test_bad_zip(tmp_path):
    digest, z = put(tmp_path, b"this is not a zip")
    with pytest.raises(LambdaError) as e:
        ensure_extracted(tmp_path / "cache", digest, z)
    assert e.value.code == "InvalidZipFileException"


def test_merge_layers_later_wins(tmp_path):
    cache = tmp_path / "cache"
    d1, z1 = put(tmp_path, build_zip({"python/a.py": "one", "python/shared.py": "first",
                                      "bin/t": ("x", 0o755)}))
    d2, z2 = put(tmp_path, build_zip({"python/b.py": "two", "python/shared.py": "second"}))
    l1, l2 = ensure_extracted(cache, d1, z1), ensure_extracted(cache, d2, z2)
    assert merge_layers(cache, []) is None
    assert merge_layers(cache, [l1]) == l1
    merged = merge_layers(cache, [l1, l2])
    assert merged is not None
    assert (merged / "python/shared.py").read_text() == "second"
    assert (merged / "python/a.py").read_text() == "one"
    assert (merged / "python/b.py").read_text() == "two"
    assert stat.S_IMODE((merged / "bin/t").stat().st_mode) == 0o555
    assert stat.S_IMODE((merged / "python").stat().st_mode) == 0o555
    assert merge_layers(cache, [l1, l2]) == merged  # cached by the ordered list
    other = merge_layers(cache, [l2, l1])
    assert other != merged and (other / "python/shared.py").read_text() == "first"
    assert (l1 / "python/shared.py").read_text() == "first"  # sources untouched
