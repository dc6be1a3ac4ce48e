"""Invocation logs and metrics in the registry, as CloudWatch Logs would hold them.

Each invocation's framed log (START, output, END, REPORT) is one event of the log stream of the
environment that ran it. Retention is bounded per log group so a busy function cannot fill the disk.
"""

from __future__ import annotations

import time

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from . import Service

    Record = tuple[tuple[Any, ...], tuple[Any, ...]]

DEFAULT_RETAINED_EVENTS = 10_000


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
    sink = getattr(svc, "log_sink", None)
    if sink is not None:
        sink.put(rec)
        return
    write_records(svc, [rec])


def write_records(svc: Service, records: list[Record]) -> None:
    """Insert records in one transaction and trim each touched log group to its retention."""
    from ..registry.db import write_transaction

    keep = int(svc.settings.get("logs.retained_events", DEFAULT_RETAINED_EVENTS))
    with write_transaction(svc.conn):
        svc.conn.executemany(
            "INSERT INTO log_events (log_group, log_stream, request_id, timestamp, message) VALUES (?, ?, ?, ?, ?)",
            [r[0] for r in records],
        )
        svc.conn.executemany(
            "INSERT OR REPLACE INTO invocations (request_id, function, version, timestamp, duration_ms, billed_ms, "
            "init_ms, max_memory_mb, memory_mb, status, error_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [r[1] for r in records],
        )
        for group in {r[0][0] for r in records}:
            (count,) = svc.conn.execute("SELECT COUNT(*) FROM log_events WHERE log_group = ?", (group,)).fetchone()
            if count > keep:
                svc.conn.execute(
                    "DELETE FROM log_events WHERE id IN (SELECT id FROM log_events WHERE log_group = ? ORDER BY id LIMIT ?)",
                    (group, count - keep),
                )


class BatchingSink:
    """Collects records from many request threads and writes them in batches on one thread:
    one transaction per ~50 ms instead of one per invocation."""

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
