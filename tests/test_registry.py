"""The registry: schema version and migrations, WAL, content-addressed blobs, one transaction per
change, and many processes writing at once."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from lambdactl.errors import LambdaError
from lambdactl.registry.db import connect, write_transaction
from lambdactl.registry.schema import SCHEMA_VERSION
from lambdactl.service import Service
from lambdactl.settings import Settings

from .conftest import create
from .helpers import make_zip


def test_fresh_registry_is_wal_with_schema_version(home: Path) -> None:
    conn = connect(home / "registry.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert int(conn.execute("PRAGMA busy_timeout").fetchone()[0]) >= 5000
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"functions", "versions"} <= tables


def test_connections_opening_a_new_registry_together_all_succeed(tmp_path: Path) -> None:
    # A server's first request races its own start-up to create the registry; switching to WAL
    # fails at once (no busy handler) while another connection holds a lock.
    import threading

    failures: list[str] = []
    for attempt in range(40):
        path = tmp_path / f"r{attempt}" / "registry.db"
        start = threading.Barrier(4)

        def open_and_read(path: Path = path, start: threading.Barrier = start) -> None:
            start.wait()
            try:
                conn = connect(path)
                conn.execute("SELECT count(*) FROM functions").fetchone()
                conn.close()
            except sqlite3.Error as exc:
                failures.append(repr(exc))

        threads = [threading.Thread(target=open_and_read) for _ in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert failures == []


def test_newer_schema_is_refused(home: Path) -> None:
    conn = connect(home / "registry.db")
    conn.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(LambdaError, match="newer than this lambdactl"):
        connect(home / "registry.db")


def test_migrations_apply_in_order_once(home: Path) -> None:
    from lambdactl.registry import schema

    calls: list[int] = []
    original = list(schema.MIGRATIONS)
    try:
        schema.MIGRATIONS.append(lambda db: calls.append(1) or db.execute("CREATE TABLE extra (x)"))
        # Pretend the code is one migration ahead of the stored schema.
        import lambdactl.registry.db as dbmod

        dbmod.SCHEMA_VERSION = len(schema.MIGRATIONS)  # type: ignore[attr-defined]
        conn = connect(home / "registry.db")
        conn.close()
        conn = connect(home / "registry.db")
        assert calls == [1]
        assert conn.execute("PRAGMA user_version").fetchone()[0] == len(schema.MIGRATIONS)
    finally:
        schema.MIGRATIONS[:] = original
        dbmod.SCHEMA_VERSION = SCHEMA_VERSION  # type: ignore[attr-defined]


def test_upgrading_a_registry_starts_the_code_storage_total_from_its_rows(home: Path) -> None:
    svc = Service(Settings.load(home))
    create(svc, "f")
    svc.call("PublishVersion", {"FunctionName": "f"})
    svc.call("PublishLayerVersion", {"LayerName": "l", "Content": {"ZipFile": make_zip({"python/a.py": "A = 1\n" * 99})}})
    svc.call("PublishLayerVersion", {"LayerName": "l", "Content": {"ZipFile": make_zip({"python/a.py": "A = 2\n"})}})
    svc.call("DeleteLayerVersion", {"LayerName": "l", "VersionNumber": 1})
    expected = 2 * len(make_zip()) + len(make_zip({"python/a.py": "A = 2\n"}))
    svc.close()
    # The registry as the release before kept it: no running total, no triggers.
    raw = sqlite3.connect(home / "registry.db")
    for (name,) in raw.execute("SELECT name FROM sqlite_master WHERE type = 'trigger'").fetchall():
        raw.execute(f"DROP TRIGGER {name}")
    raw.execute("DROP TABLE code_storage")
    raw.execute("PRAGMA user_version = 5")
    raw.commit()
    raw.close()
    svc = Service(Settings.load(home))
    try:
        assert svc.call("GetAccountSettings", {})["AccountUsage"]["TotalCodeSize"] == expected
    finally:
        svc.close()


def test_code_blobs_are_content_addressed_and_shared(svc: Service) -> None:
    a = create(svc, "a")
    b = create(svc, "b")
    assert a["CodeSha256"] == b["CodeSha256"]
    blobs = list(svc.settings.code_dir.glob("*.zip"))
    assert len(blobs) == 1 and blobs[0].read_bytes() == make_zip()
    assert not list(svc.settings.code_dir.glob("*.tmp"))
    svc.call("DeleteFunction", {"FunctionName": "a"})
    assert blobs[0].exists()  # still used by b
    svc.call("DeleteFunction", {"FunctionName": "b"})
    assert not blobs[0].exists()


def test_a_failed_change_leaves_nothing_behind(svc: Service) -> None:
    create(svc, "a")
    before = svc.conn.execute("SELECT config FROM versions").fetchall()
    with pytest.raises(RuntimeError), write_transaction(svc.conn):
        svc.conn.execute("UPDATE versions SET config = '{}'")
        raise RuntimeError("boom")
    assert svc.conn.execute("SELECT config FROM versions").fetchall() == before


def test_update_refused_by_precondition_changes_nothing(svc: Service) -> None:
    create(svc)
    before = svc.call("GetFunctionConfiguration", {"FunctionName": "f"})
    with pytest.raises(LambdaError):
        svc.call("UpdateFunctionCode", {"FunctionName": "f", "ZipFile": make_zip({"app.py": "x=1"}), "RevisionId": "nope"})
    assert svc.call("GetFunctionConfiguration", {"FunctionName": "f"}) == before
    assert len(list(svc.settings.code_dir.glob("*.zip"))) == 1


WORKER = textwrap.dedent(
    """
    import json, sys
    from lambdactl.service import Service
    from lambdactl.settings import Settings
    sys.path.insert(0, sys.argv[3])
    from tests.helpers import make_zip, ROLE
    home, worker = sys.argv[1], int(sys.argv[2])
    svc = Service(Settings.load(home))
    arn = "arn:aws:lambda:us-east-1:123456789012:function:"
    for i in range(50):
        name = f"w{worker}-f{i}"
        svc.call("CreateFunction", {"FunctionName": name, "Runtime": "python3.12", "Role": ROLE,
                 "Handler": "app.handler", "Code": {"ZipFile": make_zip({"app.py": f"# {name}"})}})
        svc.call("UpdateFunctionConfiguration", {"FunctionName": name, "MemorySize": 256 + i})
        svc.call("UpdateFunctionCode", {"FunctionName": name, "ZipFile": make_zip({"app.py": f"# v2 {name}"})})
        svc.call("TagResource", {"Resource": arn + name, "Tags": {"worker": str(worker), "i": str(i)}})
        if i % 5 == 0:
            svc.call("DeleteFunction", {"FunctionName": name})
    print("ok")
    """
)


def test_eight_processes_at_once(tmp_path: Path) -> None:
    home = tmp_path / "home"
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    root = str(Path(__file__).resolve().parent.parent)
    procs = [
        subprocess.Popen([sys.executable, str(script), str(home), str(w), root], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for w in range(8)
    ]
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
        assert "database is locked" not in err
        assert out.strip() == "ok"
    svc = Service(Settings.load(home))
    assert svc.conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    functions = []
    marker = None
    while True:
        page = svc.call("ListFunctions", {"Marker": marker} if marker else {})
        functions += page["Functions"]
        marker = page.get("NextMarker")
        if not marker:
            break
    expected = {f"w{w}-f{i}" for w in range(8) for i in range(50) if i % 5}
    assert {f["FunctionName"] for f in functions} == expected
    for f in functions:
        worker, i = f["FunctionName"][1:].split("-f")
        assert f["MemorySize"] == 256 + int(i)
        tags = svc.call("ListTags", {"Resource": f["FunctionArn"]})["Tags"]
        assert tags == {"worker": worker, "i": i}
        code = (svc.settings.code_dir / f"{__import__('base64').b64decode(f['CodeSha256']).hex()}.zip")
        assert code.read_bytes() == make_zip({"app.py": f"# v2 {f['FunctionName']}"})
    # Every stored blob is referenced, and every reference has its blob.
    referenced = {r[0] for r in svc.conn.execute("SELECT code_sha FROM versions")}
    stored = {p.stem for p in svc.settings.code_dir.glob("*.zip")}
    assert referenced == stored
    rows = svc.conn.execute("SELECT config FROM versions").fetchall()
    assert all(json.loads(r[0])["FunctionName"] for r in rows)
    assert isinstance(svc.conn, sqlite3.Connection)


def test_half_written_blobs_of_killed_uploads_are_swept(tmp_path: Path) -> None:
    import os
    import time

    from lambdactl.registry import blobs

    d = tmp_path / "code"
    d.mkdir()
    dead = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1  # no process has this pid
    old, fresh, live = d / f".{'a' * 64}.{dead}.tmp", d / f".{'b' * 64}.{dead}.tmp", d / f".{'c' * 64}.{os.getpid()}.tmp"
    for f in (old, fresh, live):
        f.write_bytes(b"partial")
    os.utime(old, (time.time() - 3600, time.time() - 3600))
    os.utime(live, (time.time() - 3600, time.time() - 3600))
    sha = blobs.store(d, b"PK\x05\x06" + b"\0" * 18)
    assert sorted(p.name for p in d.iterdir()) == sorted([f"{sha}.zip", fresh.name, live.name])


def test_the_list_item_cache_follows_every_change_of_its_row(svc: Service) -> None:
    """`versions.listing` caches the service's encoding of each ListFunctions item: after any
    change it holds exactly what encoding the API's item gives, and a whole listing made of it
    is the API's listing."""
    from lambdactl.service.functions import encode_list_item, list_functions_encoded

    create(svc, "a", Description="first", Environment={"Variables": {"KEY": "ü"}})
    create(svc, "b", Publish=True)
    svc.call("UpdateFunctionConfiguration", {"FunctionName": "a", "Description": "second", "MemorySize": 256})
    svc.call("PublishVersion", {"FunctionName": "a"})
    svc.call("TagResource", {"Resource": svc.call("GetFunction", {"FunctionName": "a"})["Configuration"]["FunctionArn"],
                             "Tags": {"k": "v"}})
    for request in ({}, {"FunctionVersion": "ALL"}):
        api = svc.call("ListFunctions", request)["Functions"]
        encoded = list_functions_encoded(svc, request)
        assert encoded == [encode_list_item(item) for item in api]
    cached = dict(svc.conn.execute("SELECT function || ':' || version, listing FROM versions"))
    assert json.loads(cached["a:$LATEST"])["Description"] == "second"
    assert json.loads(cached["a:$LATEST"])["MemorySize"] == 256 and json.loads(cached["a:1"])["MemorySize"] == 256
