"""Invocation logs and metrics in the registry, as CloudWatch Logs would hold them.

Each invocation's framed log (START, output, END, REPORT) is one event of the log stream of the
environment that ran it. Retention is bounded by size, per log group and in all, so a busy function
can neither fill the disk nor push out the logs of the others; invocation rows (the metrics) are
kept for a configured age.
"""

from __future__ import annotations

import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from . import Service

    Record = tuple[tuple[Any, ...], tuple[Any, ...]]

MIB = 1024 * 1024
DEFAULT_MAX_MB_PER_FUNCTION = 100  # config.toml [logs] max_mb_per_function
DEFAULT_MAX_MB_TOTAL = 1024  # [logs] max_mb_total
DEFAULT_INVOCATIONS_MAX_AGE_HOURS = 24  # [metrics] invocations_max_age_hours
# A group over its cap is trimmed this far below it (a tenth of the cap, at most 4 MiB), so a
# full group trims once per that many bytes written, not on every write.
TRIM_SLACK_FRACTION = 0.1
TRIM_SLACK_MAX_BYTES = 4 * MIB
TOTAL = ""  # the log_sizes row holding the sum of all groups (no log group has this name)
TRIM_INVOCATIONS_EVERY_S = 60.0
TRIM_INVOCATIONS_BATCH = 5000


def log_group_of(stored: dict[str, Any]) -> str:
    """A function version's log group: its LoggingConfig's, else /aws/lambda/NAME."""
    group: str = stored.get("LoggingConfig", {}).get("LogGroup") or f"/aws/lambda/{stored['FunctionName']}"
    return group


def function_log_group(svc: Service, function: Any) -> str:
    """The log group of a function given by name or ARN (its $LATEST configuration's)."""
    from .functions import LATEST, load_version, resolve_function_name

    name, _ = resolve_function_name(svc, function)
    return log_group_of(load_version(svc, name, LATEST))


def record(
    svc: Service,
    *,
    log_group: str,
    log_stream: str,
    request_id: str,
    timestamp: float,
    message: bytes,
    metrics: dict[str, Any],
) -> None:
    """Store one invocation's log and metrics: at once (one transaction), or through the
    service's batching `log_sink` when it has one (the server's hot path)."""
    rec: Record = (
        (log_group, log_stream, request_id, timestamp, message),
        (request_id, metrics["function"], metrics["version"], timestamp, metrics["duration_ms"],
         metrics["billed_ms"], metrics.get("init_ms"), metrics["max_memory_mb"], metrics["memory_mb"],
         metrics["status"], metrics.get("error_type")),
    )
    sink = svc.log_sink
    if sink is not None:
        sink.put(rec)
        return
    write_records(svc, [rec])


def _positive(svc: Service, key: str, default: float) -> float:
    from ..errors import LambdaError

    value = svc.settings.get(key, default)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or value <= 0:
        raise LambdaError("ServiceException", f"Invalid configuration: {key} must be a positive number, not {value!r}", 500)
    return float(value)


def log_caps(svc: Service) -> tuple[int, int]:
    """(bytes per log group, bytes in all) from config.toml's [logs] table."""
    return (int(_positive(svc, "logs.max_mb_per_function", DEFAULT_MAX_MB_PER_FUNCTION) * MIB),
            int(_positive(svc, "logs.max_mb_total", DEFAULT_MAX_MB_TOTAL) * MIB))


def _target(cap: int) -> int:
    return cap - min(int(cap * TRIM_SLACK_FRACTION), TRIM_SLACK_MAX_BYTES)


def write_records(svc: Service, records: list[Record]) -> None:
    """Insert records in one transaction, keeping each log group and all of them under their
    size caps: running sizes live in `log_sizes`, updated in the same transaction, so a write
    never sums the events table and many processes writing at once stay exact."""
    from ..registry.db import write_transaction

    per_group, total_cap = log_caps(svc)
    added: dict[str, int] = {}
    for r in records:
        added[r[0][0]] = added.get(r[0][0], 0) + len(r[0][4])
    conn = svc.conn
    with write_transaction(conn):
        conn.executemany(
            "INSERT INTO log_events (log_group, log_stream, request_id, timestamp, message) VALUES (?, ?, ?, ?, ?)",
            [r[0] for r in records],
        )
        conn.executemany(
            "INSERT OR REPLACE INTO invocations (request_id, function, version, timestamp, duration_ms, billed_ms, "
            "init_ms, max_memory_mb, memory_mb, status, error_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [r[1] for r in records],
        )
        added[TOTAL] = sum(added.values())
        _add_sizes(conn, added)
        marks = ", ".join("?" * len(added))
        sizes = dict(conn.execute(f"SELECT log_group, bytes FROM log_sizes WHERE log_group IN ({marks})", list(added)).fetchall())
        _trim(conn, sizes, per_group, total_cap)


def _add_sizes(conn: Any, deltas: dict[str, int]) -> None:
    conn.executemany(
        "INSERT INTO log_sizes (log_group, bytes) VALUES (?, ?) "
        "ON CONFLICT(log_group) DO UPDATE SET bytes = bytes + excluded.bytes",
        list(deltas.items()),
    )


def _trim(conn: Any, sizes: dict[str, int], per_group: int, total_cap: int) -> int:
    """Delete the oldest events of each group in `sizes` over `per_group`, then the oldest of
    all while the total is over `total_cap` (the caller holds the write transaction). Returns
    the bytes freed."""
    freed_all = 0
    for group, size in sizes.items():
        if group != TOTAL and size > per_group:
            freed = _delete_oldest(conn, "WHERE log_group = ? ORDER BY timestamp, id", (group,), size - _target(per_group))
            freed_all += sum(freed.values())
    total = sizes.get(TOTAL)
    if total is None:
        (total,) = conn.execute("SELECT bytes FROM log_sizes WHERE log_group = ?", (TOTAL,)).fetchone()
    total -= freed_all
    if total > total_cap:
        freed = _delete_oldest(conn, "ORDER BY id", (), total - _target(total_cap))
        freed_all += sum(freed.values())
    return freed_all


def _delete_oldest(conn: Any, order: str, params: tuple[Any, ...], need: int) -> dict[str, int]:
    """Delete events in `order` until `need` bytes are freed; adjust the running sizes."""
    ids: list[tuple[int]] = []
    freed: dict[str, int] = {}
    got = 0
    # length() of a blob reads its size from the record header, not the message itself
    cur = conn.execute(f"SELECT id, log_group, length(message) FROM log_events {order}", params)
    try:
        while got < need:
            rows = cur.fetchmany(256)
            if not rows:
                break
            for event_id, group, size in rows:
                ids.append((event_id,))
                freed[group] = freed.get(group, 0) + size
                got += size
                if got >= need:
                    break
    finally:
        cur.close()
    conn.executemany("DELETE FROM log_events WHERE id = ?", ids)
    _add_sizes(conn, {**{g: -n for g, n in freed.items()}, TOTAL: -got})
    conn.execute("DELETE FROM log_sizes WHERE bytes <= 0 AND log_group != ?", (TOTAL,))
    return freed


def enforce_log_caps(svc: Service) -> int:
    """Trim every group (and the total) to the caps now configured: for a lowered cap, whose
    groups would otherwise shrink only when next written. Returns the bytes freed."""
    from ..registry.db import write_transaction

    per_group, total_cap = log_caps(svc)
    with write_transaction(svc.conn):
        sizes = dict(svc.conn.execute("SELECT log_group, bytes FROM log_sizes").fetchall())
        if not sizes:
            return 0
        return _trim(svc.conn, sizes, per_group, total_cap)


def trim_invocations(svc: Service, now: float | None = None) -> int:
    """Delete invocation rows older than [metrics] invocations_max_age_hours, oldest first, in
    transactions of a few thousand rows so other writers get the lock in between. Rows are
    inserted about in time order, so the oldest are the lowest rowids: no timestamp index (and
    no cost on the invoke path) is needed. Returns how many were removed."""
    from ..registry.db import write_transaction

    hours = _positive(svc, "metrics.invocations_max_age_hours", DEFAULT_INVOCATIONS_MAX_AGE_HOURS)
    cutoff = (svc.clock() if now is None else now) - hours * 3600
    removed = 0
    while True:
        with write_transaction(svc.conn):
            n = svc.conn.execute(
                "DELETE FROM invocations WHERE rowid IN (SELECT rowid FROM invocations ORDER BY rowid LIMIT ?) "
                "AND timestamp < ?", (TRIM_INVOCATIONS_BATCH, cutoff),
            ).rowcount
        removed += n
        if n < TRIM_INVOCATIONS_BATCH:
            return removed


class BatchingSink:
    """Collects records from many request threads and writes them in batches on one thread:
    one transaction per ~50 ms instead of one per invocation. At most once a minute, after a
    batch, it also trims invocation rows past their age (serve start trims too)."""

    def __init__(self, make_service: Any, interval_s: float = 0.05) -> None:
        import queue
        import threading

        self._queue: queue.SimpleQueue[Record | None] = queue.SimpleQueue()
        self._make_service = make_service
        self._interval_s = interval_s
        self._thread = threading.Thread(target=self._run, name="log-writer", daemon=True)
        self._thread.start()

    def put(self, rec: Record) -> None:
        self._queue.put(rec)

    def _run(self) -> None:
        import queue

        svc = self._make_service()
        stopping = False
        next_trim = time.monotonic() + TRIM_INVOCATIONS_EVERY_S
        while not stopping:
            batch: list[Record] = []
            item = self._queue.get()
            if item is None:
                break
            batch.append(item)
            time.sleep(self._interval_s)
            while True:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    stopping = True
                    break
                batch.append(item)
            try:
                write_records(svc, batch)
            except Exception as exc:  # noqa: BLE001 - losing logs must not stop the server
                import sys

                print(f"lambdactl: could not store {len(batch)} log records: {exc}", file=sys.stderr)
            if time.monotonic() >= next_trim:
                next_trim = time.monotonic() + TRIM_INVOCATIONS_EVERY_S
                try:
                    trim_invocations(svc)
                except Exception as exc:  # noqa: BLE001 - nor may a failed trim
                    import sys

                    print(f"lambdactl: could not trim old invocation rows: {exc}", file=sys.stderr)

    def close(self) -> None:
        """Flush what is queued and stop."""
        self._queue.put(None)
        self._thread.join(timeout=10)


def events(svc: Service, log_group: str, *, since: float | None = None, after_id: int = 0, limit: int = 1000) -> list[tuple[int, str, float, bytes]]:
    """(id, stream, timestamp, message) of a group's events, oldest first."""
    rows = svc.conn.execute(
        "SELECT id, log_stream, timestamp, message FROM log_events WHERE log_group = ? AND id > ? AND timestamp >= ? "
        "ORDER BY id LIMIT ?",
        (log_group, after_id, since if since is not None else 0.0, limit),
    ).fetchall()
    return [(r[0], r[1], r[2], bytes(r[3])) for r in rows]


def parse_since(text: str, now: float | None = None) -> float:
    """`10m`, `2h`, `30s`, `1d` or an epoch/ISO time -> epoch seconds."""
    now = time.time() if now is None else now
    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    text = text.strip()
    if text and text[-1] in units and text[:-1].replace(".", "", 1).isdigit():
        return now - float(text[:-1]) * units[text[-1]]
    try:
        return float(text)
    except ValueError:
        pass
    from datetime import datetime, timezone

    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ValueError(f"cannot read time {text!r}: use 10m, 2h, 1d or an ISO-8601 time") from None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=timezone.utc)
    return parsed.timestamp()
