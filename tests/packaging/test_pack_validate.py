"""Upload checks with Lambda's codes and messages, and extraction that never leaves its target."""

from __future__ import annotations

import base64
import hashlib
import os
import random
from pathlib import Path

import pytest
from zipkit import D, E, F, L, make_zip, overlapping_zip, write

from lambdactl.errors import LambdaError
from lambdactl.packaging.validate import UNZIP_MESSAGE, check_code_zip, safe_extract

APP = b"def handler(event, context):\n    return 1\n"


def test_accepts_a_good_zip_and_reports_its_facts() -> None:
    data = make_zip([F("app.py", APP), D("lib"), F("lib/x.py", "X = 1\n")])
    facts = check_code_zip(data)
    assert facts.size == len(data)
    assert facts.sha256_b64 == base64.b64encode(hashlib.sha256(data).digest()).decode()
    assert facts.unzipped_size == len(APP) + 6


@pytest.mark.parametrize("data", [
    b"",
    b"not a zip at all",
    random.Random(1).randbytes(4096),
    make_zip([F("app.py", APP)])[:-30],  # truncated
    make_zip([F("app.py", APP, crc=7)]),  # bad CRC
    make_zip([F("app.py", APP, size=len(APP) + 100)]),  # lying size
    overlapping_zip(),
], ids=["empty", "text", "random", "truncated", "crc", "size", "overlap"])
def test_unreadable_zips_get_lambdas_400(data: bytes) -> None:
    with pytest.raises(LambdaError) as err:
        check_code_zip(data)
    assert err.value.code == "InvalidParameterValueException"
    assert err.value.status == 400
    assert err.value.message == UNZIP_MESSAGE


def test_accepts_zip64() -> None:
    data = make_zip([F("app.py", APP), D("lib"), F("lib/x.py", "X = 1\n")], zip64=True)
    assert check_code_zip(data).unzipped_size == len(APP) + 6


def test_over_50_mb_zipped_is_413() -> None:
    data = make_zip([F("blob.bin", b"\0" * 52_428_800, method=0)])
    with pytest.raises(LambdaError) as err:
        check_code_zip(data)
    assert (err.value.code, err.value.status) == ("RequestEntityTooLargeException", 413)
    assert err.value.message == "Zipped size must be smaller than 52428800 bytes"


def test_unzipped_limit_counts_layers() -> None:
    data = make_zip([F("a.txt", b"x" * 1000)])
    check_code_zip(data, extra_unzipped_bytes=262_144_000 - 1001)
    with pytest.raises(LambdaError) as err:
        check_code_zip(data, extra_unzipped_bytes=262_144_000 - 1000)
    assert err.value.code == "InvalidParameterValueException"
    assert err.value.message == "Unzipped size must be smaller than 262144000 bytes"


@pytest.mark.parametrize("entries,reason", [
    ([F("../evil.py", "x")], "'..'"),
    ([F("/etc/passwd", "x")], "absolute"),
    ([L("link", "../../etc/passwd")], "outside"),
    ([L("link", "/etc/passwd")], "absolute"),
    ([F("app.py", APP), F("app.py", APP)], "twice"),
    ([F("x.bin", b"xx", flags=1)], "encrypted"),
])
def test_unsafe_entries_are_refused(entries: list, reason: str) -> None:
    with pytest.raises(LambdaError) as err:
        check_code_zip(make_zip(entries))
    assert err.value.code == "InvalidParameterValueException"
    assert err.value.message.startswith(UNZIP_MESSAGE) and reason in err.value.message


# ---------------------------------------------------------------- safe_extract


def test_extracts_content_modes_and_links(tmp_path: Path) -> None:
    z = write(tmp_path / "c.zip", make_zip([
        F("app.py", APP), D("bin"), F("bin/tool", "#!/bin/sh\n", 0o755), F("secret.txt", "s", 0o600),
        L("bin/alias", "tool"), D("lib", 0o700), F("lib/x.py", "x"),
    ]))
    dest = tmp_path / "out"
    dest.mkdir()
    assert safe_extract(z, dest) == 7
    assert (dest / "app.py").read_bytes() == APP
    assert os.stat(dest / "bin" / "tool").st_mode & 0o777 == 0o755
    assert os.stat(dest / "secret.txt").st_mode & 0o777 == 0o600
    assert os.readlink(dest / "bin" / "alias") == "tool"
    # Directories keep their bits too (as Lambda, where a 0700 directory is unreadable to the
    # function); ones the zip does not list are 0755.
    assert os.stat(dest / "lib").st_mode & 0o777 == 0o700
    assert os.stat(dest / "bin").st_mode & 0o777 == 0o755


@pytest.mark.parametrize("entries", [
    [F("../escape.txt", "x")],
    [F("/tmp/escape.txt", "x")],
    [L("up", "..")] + [L("up2", "up/..")],  # each link looks local; together they climb out
    [L("d", "/"), F("d/escape.txt", "x")],  # a file written "through" a link
    [L("d", "."), F("d", "x")],  # a file replacing a link
    [F("a\\..\\..\\escape.txt", "x")],
], ids=["dotdot", "absolute", "link-chain", "through-link", "collision", "backslash"])
def test_never_writes_outside_dest(tmp_path: Path, entries: list) -> None:
    z = write(tmp_path / "evil.zip", make_zip(entries))
    dest = tmp_path / "a" / "b" / "dest"
    dest.mkdir(parents=True)
    before = {p for p in tmp_path.rglob("*") if dest not in p.parents and p != dest}
    with pytest.raises(LambdaError):
        safe_extract(z, dest)
    after = {p for p in tmp_path.rglob("*") if dest not in p.parents and p != dest}
    assert after == before
    assert not Path("/tmp/escape.txt").exists()


def test_extract_refuses_corrupt_data(tmp_path: Path) -> None:
    z = write(tmp_path / "c.zip", make_zip([F("app.py", APP, crc=5)]))
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(LambdaError):
        safe_extract(z, dest)


def test_extract_refuses_more_than_the_limit_before_writing(tmp_path: Path) -> None:
    z = write(tmp_path / "c.zip", make_zip([F("a.txt", b"x" * 100), F("b.txt", b"y" * 100)]))
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(LambdaError, match="Unzipped size"):
        safe_extract(z, dest, max_unzipped_bytes=150)
    assert list(dest.iterdir()) == []
    assert safe_extract(z, dest, max_unzipped_bytes=201) == 2


def test_backslash_names_extract_as_one_file_like_lambda(tmp_path: Path) -> None:
    """Uploads with `\\` in names are accepted (as by Lambda), so extraction must not fail them."""
    data = make_zip([F("src\\app.py", APP)])
    check_code_zip(data)
    dest = tmp_path / "out"
    dest.mkdir()
    assert safe_extract(write(tmp_path / "c.zip", data), dest) == 1
    assert [p.name for p in dest.iterdir()] == ["src\\app.py"]


# ------------------------------------------- what the upload check and the extractor agree on


def _deep_link(n: int) -> bytes:
    return b"/".join([b"a"] * n)


ACCEPTED_THEN_UNUSABLE = {
    # Each was once accepted at upload and then failed (or hung) every invocation.
    "huge-link-target": [F("app.py", APP), E("l", _deep_link(2_000_000), 0o120777)],
    "long-link-target": [F("app.py", APP), E("l", _deep_link(4096), 0o120777)],
    "long-component": [F("app.py", APP), F("x" * 256 + ".py", "x")],
    "long-path": [F("app.py", APP), F("/".join(["d" * 200] * 21) + "/x.py", "x")],
    "file-then-child": [F("app.py", APP), F("a", "x"), F("a/b.py", "x")],
    "child-then-file": [F("app.py", APP), F("a/b.py", "x"), F("a", "x")],
    "dangling-link-then-file": [F("app.py", APP), L("d", "sub"), F("d/x.py", "x"), D("sub")],
    "link-chain-escape": [F("app.py", APP), L("l", "m/" * 40 + "../" * 41), L("m", ".")],
    "link-loop": [F("app.py", APP), L("a", "b/x"), L("b", "a/x")],
    "dot-slash-duplicate": [F("app.py", APP), F("./app.py", "X = 2\n")],
    "double-slash-duplicate": [F("app.py", APP), F("a/b.py", "x"), F("a//b.py", "y")],
    "bad-deflate-stream": [F("app.py", APP), F("x.bin", b"\xff" * 64, method=8)],
}


def _corrupt_deflate(data: bytes) -> bytes:
    # The entry's compressed bytes replaced by garbage of the same length (CRC and sizes stay).
    at = data.index(b"x.bin") + len(b"x.bin")
    end = data.index(b"PK\x01\x02")
    return data[:at] + b"\xff" * (end - at) + data[end:]


@pytest.mark.parametrize("case", sorted(ACCEPTED_THEN_UNUSABLE))
def test_upload_check_refuses_what_extraction_cannot_make(tmp_path: Path, case: str) -> None:
    data = make_zip(ACCEPTED_THEN_UNUSABLE[case])
    if case == "bad-deflate-stream":
        data = _corrupt_deflate(data)
    with pytest.raises(LambdaError) as info:
        check_code_zip(data)
    assert (info.value.code, info.value.message.split(" (")[0]) == ("InvalidParameterValueException", UNZIP_MESSAGE)
    dest = tmp_path / "out"
    dest.mkdir()
    with pytest.raises(LambdaError):
        safe_extract(write(tmp_path / "c.zip", data), dest)
    # The linter reads it too, without crashing.
    from lambdactl.packaging.lint import lint_zip

    lint_zip(tmp_path / "c.zip", runtime="python3.12", handler="app.handler")


def test_links_inside_the_package_are_kept(tmp_path: Path) -> None:
    data = make_zip([F("app.py", APP), D("lib"), F("lib/real.py", "X = 1\n"), L("lib/alias.py", "real.py"),
                     L("top", "lib"), L("via", "top/real.py"), L("dangling", "missing/file")])
    check_code_zip(data)
    dest = tmp_path / "out"
    dest.mkdir()
    safe_extract(write(tmp_path / "c.zip", data), dest)
    assert (dest / "via").read_text() == "X = 1\n" and os.readlink(dest / "dangling") == "missing/file"


def test_lint_survives_an_entry_without_a_name(tmp_path: Path) -> None:
    from lambdactl.packaging.lint import lint_zip

    z = write(tmp_path / "c.zip", make_zip([F("app.py", APP), F("", "x")]))
    lint_zip(z, runtime="python3.12", handler="app.handler")


def test_each_link_is_resolved_once_however_often_it_is_used(monkeypatch) -> None:
    # Links whose targets run through a long link again and again: resolving each use anew
    # made a 10 KB upload take seconds and a 50 MB one hours. Memoised, the walk is the sum of
    # the targets' lengths, which the budget is set to exactly here.
    from lambdactl.packaging import validate

    deep = "a/" * 800
    entries = [F(deep + "f", "x"), L("L", deep + "../" * 800)]
    entries += [L(f"x{i}", "/".join(["L"] * 40)) for i in range(200)]
    pieces = sum(len([p for p in e.data.decode().split("/") if p not in ("", ".")])
                 for e in entries if e.mode == 0o120777)
    monkeypatch.setattr(validate, "LINK_WALK_BUDGET", pieces)
    check_code_zip(make_zip([F("app.py", APP), *entries]))
    monkeypatch.setattr(validate, "LINK_WALK_BUDGET", pieces - 1)
    with pytest.raises(LambdaError, match="take too long to resolve"):
        check_code_zip(make_zip([F("app.py", APP), *entries]))
