"""Opening the registry database, its schema version and ordered migrations, and transactions.

Plain `sqlite3` on every call (sqlite-utils costs ~70 ms to import, too much for a CLI that runs on
every line of a shell script); sqlite-utils is loaded only to create or migrate the schema.
Writers take the lock up front (`BEGIN IMMEDIATE`), so two processes never deadlock upgrading a read
lock, which is what turns into "database is locked" under load.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from .schema import SCHEMA_VERSION

BUSY_TIMEOUT_MS = 60_000

# Threads of one process (the server's) queue here for the write lock instead of in SQLite's busy
# handler, which sleeps in steps of milliseconds and turns contention into latency spikes.
_PROCESS_WRITE_LOCK = threading.Lock()

# Registries this process found damaged (their files as SQLite names them): no more writes.
_DAMAGED: set[str] = set()


class RegistryDamaged(sqlite3.DatabaseError):
    """The registry was found damaged earlier and has not been repaired since."""


def connect(path: Path, *, backup_after_migration: bool = True) -> sqlite3.Connection:
    """Open (creating or migrating as needed) the registry at `path`."""
    from ..settings import ensure_home, open_private

    ensure_home(path.parent)
    try:  # SQLite gives the -wal and -shm files the database file's mode
        os.close(open_private(path, os.O_RDWR | os.O_EXCL))
    except FileExistsError:
        pass
    if _marker(path).exists():
        # Found damaged before: nothing more is written to it (a write could spread the damage
        # through its free-page list) until `lambdactl doctor --repair`.
        raise RegistryDamaged(_marker(path).read_text(errors="replace").strip() or "damaged")
    conn = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    try:
        conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
        conn.execute("PRAGMA foreign_keys=ON")
        # Check each b-tree cell's size as it is read: damage shows up as an error at once
        # instead of as wrong rows (a fraction of a percent on reads).
        conn.execute("PRAGMA cell_size_check=ON")
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        if version != SCHEMA_VERSION:
            _migrate(conn, version)
            if backup_after_migration and version:  # a new, empty registry: its first write backs it up
                backup(conn, path)
        conn.execute("PRAGMA synchronous=NORMAL")
    except BaseException:
        conn.close()
        raise
    return conn


def _migrate(conn: sqlite3.Connection, seen_version: int) -> None:
    from .schema import MIGRATIONS

    if seen_version > SCHEMA_VERSION:
        from ..errors import LambdaError

        raise LambdaError(
            "ServiceException",
            f"The registry has schema version {seen_version}, newer than this lambdactl "
            f"understands ({SCHEMA_VERSION}). Upgrade lambdactl.",
            500,
        )
    _enter_wal(conn)
    import sqlite_utils

    db = sqlite_utils.Database(conn)
    with write_transaction(conn):
        # Another process may have migrated while we waited for the lock.
        (version,) = conn.execute("PRAGMA user_version").fetchone()
        for number, step in enumerate(MIGRATIONS, start=1):
            if number > version:
                step(db)
        conn.execute(f"PRAGMA user_version={SCHEMA_VERSION}")


def _enter_wal(conn: sqlite3.Connection) -> None:
    """Switch a new registry to WAL, waiting out other connections' brief locks.

    SQLite answers "database is locked" at once, without its busy handler, when another connection
    holds any lock during the switch: two threads or processes opening a brand-new registry
    together (a server's first request beside its start-up) would otherwise fail one of them.
    """
    import time

    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    pause = 0.001
    while True:
        try:
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                conn.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
        time.sleep(pause)
        pause = min(pause * 2, 0.05)


@contextmanager
def write_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """One registry change = one transaction, holding the write lock from its first statement."""
    if conn.in_transaction:
        # Nested use (a service call made inside another): the outer transaction owns the commit.
        yield conn
        return
    if _DAMAGED:
        (_, _, file) = conn.execute("PRAGMA database_list").fetchone()
        if file in _DAMAGED:
            # Found damaged by another connection of this process (another server thread).
            raise RegistryDamaged(f"{file} was found damaged; it is written no more")
    with _PROCESS_WRITE_LOCK:
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")


@contextmanager
def read_transaction(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    """A consistent snapshot across several SELECTs."""
    if conn.in_transaction:
        yield conn
        return
    conn.execute("BEGIN")
    try:
        yield conn
    finally:
        conn.execute("COMMIT")


# -- damage, backups and repair ------------------------------------------------------------------

BACKUP_SUFFIX = ".backup"
# A writing call backs the registry up when the last backup is older than this.
BACKUP_INTERVAL_S = 3600.0
_DAMAGE_NAMES = ("SQLITE_CORRUPT", "SQLITE_NOTADB")


def _marker(path: Path) -> Path:
    return path.with_name(path.name + ".damaged")


def backup_path(path: Path) -> Path:
    return path.with_name(path.name + BACKUP_SUFFIX)


def is_damage(exc: BaseException) -> bool:
    """Whether an SQLite error says the database file itself is damaged."""
    if isinstance(exc, RegistryDamaged):
        return True
    if not isinstance(exc, sqlite3.DatabaseError):
        return False
    name = getattr(exc, "sqlite_errorname", "") or ""
    if name:
        return name.startswith(_DAMAGE_NAMES)
    text = str(exc)
    return "malformed" in text or "not a database" in text


def mark_damaged(path: Path, exc: BaseException) -> None:
    """Remember that the registry is damaged, so later commands refuse to write to it."""
    if isinstance(exc, RegistryDamaged):
        return
    from ..settings import write_private

    _DAMAGED.add(str(path.resolve()))
    try:
        write_private(_marker(path), f"{exc}\n".encode())
    except OSError:
        pass  # a read-only home: every command finds the damage again by itself


def explain(exc: BaseException, path: Path) -> str | None:
    """What to tell a user about an error of the registry's storage at `path`, or None when
    `exc` is not one (a bug, or a file the caller reports itself)."""
    import errno

    home = path.parent
    name = getattr(exc, "sqlite_errorname", "") or ""
    if is_damage(exc):
        mark_damaged(path, exc)
        kept = backup_path(path)
        fallback = f", else from the backup {kept}" if kept.exists() else ""
        return (f"The registry {path} is damaged ({exc}). Run `lambdactl doctor --repair`: it "
                f"moves the file aside and rebuilds the registry from the rows that can still be "
                f"read{fallback}. Nothing is written to the damaged file meanwhile.")
    err = exc.errno if isinstance(exc, OSError) else None
    where = Path(exc.filename) if isinstance(exc, OSError) and exc.filename else path
    if err in (errno.ENOSPC, errno.EDQUOT) or name == "SQLITE_FULL":
        return (f"No space left on the device holding {where}: free some space and run the "
                f"command again (the change was not made).")
    if err in (errno.ENOTDIR, errno.EEXIST) or (home.exists() and not home.is_dir()):
        return (f"The home {home} is not a directory. Move that file away, or choose another "
                f"home with --home or LAMBDACTL_HOME.")
    if err in (errno.EROFS, errno.EACCES, errno.EPERM) or name.startswith(
            ("SQLITE_READONLY", "SQLITE_CANTOPEN", "SQLITE_PERM", "SQLITE_AUTH")):
        reason = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        return (f"Cannot write {where} ({reason}). Make {home} writable (is its file system "
                f"read-only?), or choose another home with --home or LAMBDACTL_HOME.")
    if name.startswith("SQLITE_IOERR") or err == errno.EIO:
        return f"Input/output error on {where} ({exc}): check the disk, then run `lambdactl doctor --repair`."
    return None


def maybe_backup(conn: sqlite3.Connection, path: Path) -> None:
    """After a write: back the registry up when the last backup is over an hour old."""
    import time

    try:
        age = time.time() - backup_path(path).stat().st_mtime
    except OSError:
        age = BACKUP_INTERVAL_S
    if age >= BACKUP_INTERVAL_S:
        backup(conn, path)


def backup_in_background(path: Path) -> None:
    """Back an existing registry up on a thread of its own (a server's start)."""
    def run() -> None:
        try:
            conn = connect(path)
        except (sqlite3.Error, OSError) as exc:
            if is_damage(exc):
                mark_damaged(path, exc)
            return
        try:
            backup(conn, path)
        finally:
            conn.close()

    if path.exists():
        threading.Thread(target=run, name="registry-backup", daemon=True).start()


def backup(conn: sqlite3.Connection, path: Path) -> bool:
    """Copy the registry beside itself with SQLite's online backup API (a consistent snapshot
    while others keep writing), keeping the previous backup unless the copy checks out: a
    damaged registry never replaces a good backup (and is marked damaged instead)."""
    target = backup_path(path)
    from ..settings import open_private

    tmp = target.with_name(f"{target.name}.tmp{os.getpid()}.{threading.get_ident()}")
    try:
        os.close(open_private(tmp, os.O_RDWR | os.O_TRUNC))  # 0600 like the registry it copies
        dest = sqlite3.connect(str(tmp))
        try:
            conn.backup(dest)
            (verdict,) = dest.execute("PRAGMA quick_check").fetchone()
        finally:
            dest.close()
        if verdict != "ok":
            mark_damaged(path, sqlite3.DatabaseError(f"quick_check: {verdict}"))
            return False
        os.replace(tmp, target)
        return True
    except sqlite3.Error as exc:
        if is_damage(exc):
            mark_damaged(path, exc)
        return False
    except OSError:
        return False  # no room or no right to write a backup: the command itself succeeded
    finally:
        tmp.unlink(missing_ok=True)


def repair(path: Path) -> dict[str, object]:
    """Move a registry aside (never deleting it) and build a fresh one from what it still holds.

    Every table of the current schema is filled with the rows of the old file that can still be
    read (a damaged page loses the rows on it, not the rest of the table). When the old file
    cannot be read at all (not a database, its schema unreadable), the backup is restored
    instead, and failing that the registry starts empty. Returns a report of what was done.
    """
    import shutil
    import time

    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    aside = path.with_name(f"{path.name}.broken-{stamp}")
    report: dict[str, object] = {"registry": str(path)}
    if path.exists():
        for suffix in ("", "-wal", "-shm"):
            src = Path(f"{path}{suffix}")
            if src.exists():
                os.replace(src, f"{aside}{suffix}")
        report["moved_aside"] = str(aside)
    _marker(path).unlink(missing_ok=True)
    _DAMAGED.discard(str(path.resolve()))
    fresh = connect(path, backup_after_migration=False)  # the backup may be needed below
    try:
        tables: dict[str, int] = {}
        lost: dict[str, str] = {}
        readable = False
        if aside.exists():
            # Read a copy: opening the old file itself would let SQLite roll its journal into it.
            work = aside.with_name(aside.name + ".reading")
            for suffix in ("", "-wal"):
                if Path(f"{aside}{suffix}").exists():
                    shutil.copyfile(f"{aside}{suffix}", f"{work}{suffix}")
            try:
                readable = _salvage(fresh, work, tables, lost)
            finally:
                for suffix in ("", "-wal", "-shm"):
                    Path(f"{work}{suffix}").unlink(missing_ok=True)
        if readable:
            report["source"] = "rows read from the old file"
        elif backup_path(path).exists():
            fresh.close()
            kept = sqlite3.connect(f"file:{backup_path(path)}?mode=ro", uri=True)
            dest = sqlite3.connect(str(path))
            try:
                kept.backup(dest)
            finally:
                kept.close()
                dest.close()
            fresh = connect(path)  # migrates a backup made by an older lambdactl
            tables = {t: fresh.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]  # noqa: S608
                      for t in _tables(fresh)}
            report["source"] = f"the backup {backup_path(path)}"
        else:
            report["source"] = "nothing could be read and there is no backup: the registry is empty"
        report["rows"] = tables
        if lost:
            report["unreadable"] = lost
        backup(fresh, path)
    finally:
        fresh.close()
    return report


def _tables(conn: sqlite3.Connection) -> list[str]:
    return [r[0] for r in conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY rowid")]


def _salvage(fresh: sqlite3.Connection, old_path: Path, tables: dict[str, int], lost: dict[str, str]) -> bool:
    """Copy every readable row of `old_path` into `fresh`; False when nothing can be read."""
    try:
        old = sqlite3.connect(str(old_path), isolation_level=None)
        old_tables = set(_tables(old))
    except sqlite3.Error:
        return False
    try:
        fresh.execute("PRAGMA foreign_keys=OFF")
        with write_transaction(fresh):
            for table in _tables(fresh):
                if table not in old_tables:
                    continue
                ours = [r[1] for r in fresh.execute(f'PRAGMA table_info("{table}")')]
                try:
                    theirs = {r[1] for r in old.execute(f'PRAGMA table_info("{table}")')}
                except sqlite3.Error as exc:
                    lost[table] = str(exc)
                    continue
                cols = [c for c in ours if c in theirs]
                names = ", ".join(f'"{c}"' for c in cols)
                insert = f'INSERT OR IGNORE INTO "{table}" ({names}) VALUES ({", ".join("?" * len(cols))})'  # noqa: S608
                count = 0
                for row in _readable_rows(old, table, names, lost):
                    fresh.execute(insert, row)
                    count += 1
                tables[table] = count
    finally:
        fresh.execute("PRAGMA foreign_keys=ON")
        old.close()
    return True


def _readable_rows(old: sqlite3.Connection, table: str, names: str, lost: dict[str, str]) -> Iterator[tuple[object, ...]]:
    """The rows of `table` in rowid order, stepping over stretches that cannot be read."""
    select = f'SELECT rowid, {names} FROM "{table}"'  # noqa: S608
    lower = -(1 << 63)
    try:
        for row in old.execute(f"{select} ORDER BY rowid"):
            lower = row[0] + 1
            yield row[1:]
        return
    except sqlite3.Error as exc:
        lost[table] = str(exc)
    # One row per query from there on: a cursor reads a row ahead, so the error of a damaged
    # row would otherwise also cost the good row before it.
    skip = 1
    while skip < 1 << 40:
        try:
            row = old.execute(f"{select} WHERE rowid >= ? ORDER BY rowid LIMIT 1", (lower,)).fetchone()
        except sqlite3.Error:
            lower += skip  # past the damaged row, further each time the next seek fails too
            skip *= 2
            continue
        if row is None:
            return
        yield row[1:]
        lower = row[0] + 1
        skip = 1
