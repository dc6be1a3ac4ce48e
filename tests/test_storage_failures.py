"""A damaged or truncated registry, a full disk, a read-only home, a home that is a file and a bad
config.toml: each gets a message naming the file and what to do, never a traceback, and
`doctor --repair` brings a damaged registry back from what can still be read or its backup."""

from __future__ import annotations

import hashlib
import os
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from .helpers import create_args, make_zip, run_cli


def names(home: Path) -> list[str]:
    r = run_cli("list-functions", "--query", "Functions[].FunctionName", home=home)
    assert r.code == 0, r.stderr
    return sorted(r.json)


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def refused_as_damaged(home: Path, *args: str) -> None:
    r = run_cli(*args, home=home)
    assert r.code == 254, r.stderr
    assert f"The registry {home / 'registry.db'} is damaged" in r.stderr
    assert "lambdactl doctor --repair" in r.stderr and "Traceback" not in r.stderr


def test_a_registry_of_garbage_is_reported_and_repair_moves_it_aside(home: Path, zip_path: Path) -> None:
    registry = home / "registry.db"
    registry.write_bytes(os.urandom(20_000))
    before = digest(registry)
    refused_as_damaged(home, "list-functions")
    refused_as_damaged(home, *create_args("f", zip_path))
    assert digest(registry) == before  # nothing was written to it
    repaired = run_cli("doctor", "--repair", "--output", "json", home=home)
    assert repaired.code == 0, repaired.stderr
    aside = Path(repaired.json["moved_aside"])
    assert aside.parent == home and digest(aside) == before  # kept, byte for byte
    assert "no backup" in repaired.json["source"]
    assert names(home) == []
    assert run_cli(*create_args("f", zip_path), home=home).code == 0
    assert names(home) == ["f"]


def test_a_truncated_registry_comes_back_from_its_backup(home: Path, zip_path: Path) -> None:
    for name in ("a", "b"):
        assert run_cli(*create_args(name, zip_path), home=home).code == 0
    backup = home / "registry.db.backup"
    assert backup.exists()  # made by the first write of the registry
    # an hour later, the next write refreshes it
    old = time.time() - 7200
    os.utime(backup, (old, old))
    assert run_cli(*create_args("c", zip_path), home=home).code == 0
    assert backup.stat().st_mtime > old + 3600
    assert run_cli(*create_args("d", zip_path), home=home).code == 0  # after the backup
    registry = home / "registry.db"
    data = registry.read_bytes()
    registry.write_bytes(data[: len(data) // 3])
    refused_as_damaged(home, "get-function", "--function-name", "a")
    repaired = run_cli("doctor", "--repair", home=home)
    assert repaired.code == 0, repaired.stderr
    assert f"rebuilt from: the backup {backup}" in repaired.stdout
    assert names(home) == ["a", "b", "c"]


def test_repair_keeps_every_row_a_damaged_page_did_not_hold(home: Path, zip_path: Path) -> None:
    long = "d" * 250
    for i in range(12):
        assert run_cli(*create_args(f"f{i:02d}", zip_path, "--description", long), home=home).code == 0
    registry = home / "registry.db"
    with sqlite3.connect(registry) as conn:
        try:
            pages = [p for (p,) in conn.execute("SELECT pageno FROM dbstat WHERE name = 'versions' AND pagetype = 'leaf' ORDER BY pageno")]
        except sqlite3.OperationalError:
            pytest.skip("this SQLite has no dbstat table to find a leaf page with")
        (page_size,) = conn.execute("PRAGMA page_size").fetchone()
    assert len(pages) > 4
    with open(registry, "r+b") as fh:
        fh.seek((pages[len(pages) // 2] - 1) * page_size)
        fh.write(b"\xde\xad" * (page_size // 2))
    refused_as_damaged(home, "list-functions")
    repaired = run_cli("doctor", "--repair", "--output", "json", home=home)
    assert repaired.code == 0, repaired.stderr
    report = repaired.json
    assert report["source"] == "rows read from the old file"
    assert report["rows"]["functions"] == 12
    assert 9 <= report["rows"]["versions"] < 12  # the rows of one damaged page, no more
    assert "versions" in report["unreadable"]
    listed = names(home)
    assert len(listed) == report["rows"]["versions"]
    assert run_cli("update-function-configuration", "--function-name", listed[0], "--timeout", "9", home=home).code == 0


def test_a_home_that_is_a_file(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.write_text("not a directory")
    for args in (["list-functions"], ["get-function", "--function-name", "f"]):
        r = run_cli(*args, home=home)
        assert r.code == 253, r.stderr
        assert f"The home {home} is not a directory" in r.stderr and "Traceback" not in r.stderr
    r = run_cli("list-functions", home=home / "below")
    assert r.code == 253 and "is not a directory" in r.stderr


@pytest.mark.parametrize(("text", "words"), [
    ("region = 3\n", "region must be a string, not an integer 3"),
    ("[concurrency]\naccount_limt = 5\n", "unknown key 'concurrency.account_limt'"),
    ("colour = 'red'\n", "unknown key 'colour'"),
    ("[server]\nport = '80'\n", "server.port must be an integer"),
    ("output = 'xml'\n", "output must be one of json"),
    ("[runtimes]\nallow_deprecated = 'python3.9'\n", "runtimes.allow_deprecated must be an array"),
    ("[concurrency\n", "Expected ']'"),
    ("region = \"\xff\"\n", "Invalid configuration file"),
    # Numbers are range-checked at load too: finite, timeouts and caps above 0 and sane, ports,
    # counts of at least one.
    ("[server]\nbody_timeout_s = 1e300\n", "server.body_timeout_s must be a finite number greater than 0 and at most 86,400, not 1e+300"),
    ("[server]\nheader_timeout_s = nan\n", "server.header_timeout_s must be a finite number greater than 0"),
    ("[server]\nkeepalive_timeout_s = -5\n", "server.keepalive_timeout_s must be a finite number greater than 0"),
    ("[server]\nidle_timeout_s = 0\n", "server.idle_timeout_s must be a finite number greater than 0"),
    ("[server]\nport = 65536\n", "server.port must be an integer at least 0 and at most 65,535, not 65536"),
    ("[server]\nport = -1\n", "server.port must be an integer at least 0"),
    ("[server]\nmax_connections = 0\n", "server.max_connections must be an integer at least 1"),
    ("[concurrency]\naccount_limit = -3\n", "concurrency.account_limit must be an integer at least 1"),
    ("[logs]\nmax_mb_total = -1\n", "logs.max_mb_total must be a finite number greater than 0"),
    ("[logs]\nmax_mb_per_function = inf\n", "logs.max_mb_per_function must be a finite number greater than 0"),
    ("[logs]\nmax_mb_per_function = 2e9\n", "at most 1,073,741,824, not 2000000000.0"),
    ("[metrics]\ninvocations_max_age_hours = 0\n", "metrics.invocations_max_age_hours must be a finite number greater than 0"),
    ("[storage]\nmin_free_mb = -1\n", "storage.min_free_mb must be a finite number at least 0"),
])
def test_a_bad_config_toml_is_reported_at_load_before_any_write(home: Path, zip_path: Path, text: str, words: str) -> None:
    config = home / "config.toml"
    config.write_bytes(text.encode("utf-8", "surrogateescape") if "\xff" not in text else text.encode("latin-1"))
    r = run_cli(*create_args("f", zip_path), home=home)
    assert r.code == 253, r.stderr
    assert f"Invalid configuration file {config}" in r.stderr and words in r.stderr
    assert "Traceback" not in r.stderr
    assert not (home / "registry.db").exists()  # refused before anything was written
    served = subprocess.run([*run_cli_argv(), "serve", "--port", "0", "--home", str(home)],
                            capture_output=True, text=True, timeout=60)
    assert served.returncode != 0 and words in served.stderr and "Traceback" not in served.stderr


def run_cli_argv() -> list[str]:
    from .helpers import console_script

    return [console_script()]


def test_a_good_config_toml_still_loads(home: Path) -> None:
    (home / "config.toml").write_text(
        'region = "eu-west-1"\noutput = "json"\n[runtimes]\n"python3.12" = "/usr/bin/python3"\n'
        'allow_deprecated = ["python3.9"]\n[concurrency]\naccount_limit = 150\n'
        '[server]\nidle_timeout_s = 1.5\n[server.credentials]\nAKID = "secret"\n[logs]\nmax_mb_per_function = 10\nmax_mb_total = 20.5\n[metrics]\ninvocations_max_age_hours = 2\n'
        '[storage]\nmin_free_mb = 0\n')
    r = run_cli("get-account-settings", home=home)
    assert r.code == 0, r.stderr
    assert r.json["AccountLimit"]["ConcurrentExecutions"] == 150


@pytest.fixture
def small_mount(tmp_path: Path) -> Iterator[Path]:
    """A 3 MB tmpfs for the home (root only; skipped where mounting is not permitted)."""
    where = tmp_path / "mnt"
    where.mkdir()
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(where)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.strip() or done.returncode}")
    try:
        from lambdactl.settings import write_config

        # The home "home" in it keeps no free-space reserve (the default is more than it holds).
        write_config(where / "home", {"storage": {"min_free_mb": 0}})
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def test_a_full_disk_is_reported_and_changes_nothing(small_mount: Path, zip_path: Path, tmp_path: Path) -> None:
    home = small_mount / "home"
    assert run_cli(*create_args("f", zip_path), home=home).code == 0
    big = tmp_path / "big.zip"
    big.write_bytes(make_zip({"a.bin": os.urandom(4_000_000)}))
    # An upload larger than the free space is refused before its blob is written.
    r = run_cli("update-function-code", "--function-name", "f", "--zip-file", f"fileb://{big}", home=home)
    assert r.code == 254, r.stderr
    assert "CodeStorageExceededException" in r.stderr and "min_free_mb" in r.stderr
    assert not [p for p in (home / "code").iterdir() if p.name.endswith(".tmp")]  # no half blob left
    # fill what is left, then a change of the registry itself
    with open(small_mount / "filler", "wb", buffering=0) as fh:  # unbuffered: close has nothing left to fail on
        try:
            while True:
                fh.write(b"\0" * 65536)
                fh.flush()
        except OSError:
            pass
    before = run_cli("get-function-configuration", "--function-name", "f", home=home).json
    tags = ",".join(f"k{i}={'v' * 250}" for i in range(45))
    r = run_cli("tag-resource", "--resource", before["FunctionArn"], "--tags", tags, home=home)
    r2 = run_cli(*create_args("g", zip_path, "--description", "x" * 256), home=home)
    assert r.code == 254 or r2.code == 254, (r.stderr, r2.stderr)
    # The registry's own write fails for want of space, and says so.
    assert "No space left on the device holding" in r.stderr + r2.stderr, (r.stderr, r2.stderr)
    assert r.code == 0 or "No space left on the device holding" in r.stderr, r.stderr
    # A new function's code is refused before its blob is written; or, if it fits, its row.
    assert r2.code == 0 or "CodeStorageExceededException" in r2.stderr or "No space left on the device holding" in r2.stderr
    assert "Traceback" not in r.stderr + r2.stderr
    (small_mount / "filler").unlink()
    assert run_cli("get-function-configuration", "--function-name", "f", home=home).json["CodeSha256"] == before["CodeSha256"]
    assert run_cli("update-function-configuration", "--function-name", "f", "--timeout", "7", home=home).code == 0


def test_a_read_only_home_is_reported(small_mount: Path, zip_path: Path) -> None:
    home = small_mount / "home"
    assert run_cli(*create_args("f", zip_path), home=home).code == 0
    done = subprocess.run(["mount", "-o", "remount,ro", str(small_mount)], capture_output=True, text=True)
    if done.returncode != 0:
        pytest.skip(f"cannot remount read-only: {done.stderr.strip()}")
    for args, where in ((["list-functions"], home), (["update-function-configuration", "--function-name", "f", "--timeout", "5"], home),
                        (["list-functions"], home / "new")):
        r = run_cli(*args, home=where)
        assert r.code == 254, r.stderr
        assert "Cannot write" in r.stderr and str(where) in r.stderr and "Traceback" not in r.stderr
        assert "--home or LAMBDACTL_HOME" in r.stderr


def test_once_damage_is_found_no_connection_of_the_process_writes(home: Path) -> None:
    """A server's threads each hold a connection: when one finds the registry damaged, the others
    stop writing to it too (a write could spread the damage through the free-page list)."""
    from lambdactl.errors import LambdaError
    from lambdactl.service import Service
    from lambdactl.settings import Settings

    from .conftest import create

    first, second = Service(Settings.load(home)), Service(Settings.load(home))
    try:
        for i in range(12):
            create(first, f"f{i:02d}", Description="d" * 250)
        second.call("GetFunction", {"FunctionName": "f00"})  # its connection is open
        registry = home / "registry.db"
        first.close()
        with sqlite3.connect(registry) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # every page in the file itself
            try:
                pages = [p for (p,) in conn.execute("SELECT pageno FROM dbstat WHERE name = 'versions' AND pagetype = 'leaf' ORDER BY pageno")]
            except sqlite3.OperationalError:
                pytest.skip("this SQLite has no dbstat table to find a leaf page with")
            (page_size,) = conn.execute("PRAGMA page_size").fetchone()
        with open(registry, "r+b") as fh:
            fh.seek((pages[-1] - 1) * page_size)
            fh.write(b"\xde\xad" * (page_size // 2))
        with pytest.raises(LambdaError, match="is damaged"):
            first.call("ListFunctions", {})
        before = digest(registry)
        with pytest.raises(LambdaError, match="damaged"):
            second.call("TagResource", {"Resource": "arn:aws:lambda:us-east-1:123456789012:function:f00", "Tags": {"k": "v"}})
        assert digest(registry) == before
    finally:
        first.close()
        second.close()


def test_logs_tail_of_a_damaged_registry_names_it(home: Path) -> None:
    (home / "registry.db").write_bytes(os.urandom(9000))
    r = run_cli("logs", "tail", "f", home=home)
    assert r.code == 254 and "is damaged" in r.stderr and "Traceback" not in r.stderr
