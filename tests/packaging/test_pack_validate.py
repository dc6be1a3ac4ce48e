"""Upload checks with Lambda's codes and messages, and extraction that never leaves its target."""

from __future__ import annotations

import base64
import hashlib
import os
import random
from pathlib import Path

import pytest
from zipkit import D, F, L, make_zip, overlapping_zip, write

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
    assert os.stat(dest / "lib").st_mode & 0o777 == 0o755


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
