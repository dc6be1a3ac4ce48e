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


def connect(path: Path) -> sqlite3.Connection:
    """Open (creating or migrating as needed) the registry at `path`."""
    from ..settings import ensure_home, open_private

    ensure_home(path.parent)
    try:  # SQLite gives the -wal and -shm files the database file's mode
        os.close(open_private(path, os.O_RDWR | os.O_EXCL))
    except FileExistsError:
        pass
    conn = sqlite3.connect(
        str(path), timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None, check_same_thread=False
    )
    conn.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    conn.execute("PRAGMA foreign_keys=ON")
    (version,) = conn.execute("PRAGMA user_version").fetchone()
    if version != SCHEMA_VERSION:
        _migrate(conn, version)
    conn.execute("PRAGMA synchronous=NORMAL")
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
