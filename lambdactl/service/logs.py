"""Invocation logs and metrics in the registry, as CloudWatch Logs would hold them.

Each invocation's framed log (START, output, END, REPORT) is one event of the log stream of the
environment that ran it. Retention is bounded per log group so a busy function cannot fill the disk.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from . import Service

DEFAULT_RETAINED_EVENTS = 10_000


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
    """Store one invocation's log and metrics in one transaction, trimming old events."""
    from ..registry.db import write_transaction

    keep = int(svc.settings.get("logs.retained_events", DEFAULT_RETAINED_EVENTS))
    with write_transaction(svc.conn):
        svc.conn.execute(
            "INSERT INTO log_events (log_group, log_stream, request_id, timestamp, message) VALUES (?, ?, ?, ?, ?)",
            (log_group, log_stream, request_id, timestamp, message),
        )
        svc.conn.execute(
            "INSERT OR REPLACE INTO invocations (request_id, function, version, timestamp, duration_ms, billed_ms, "
            "init_ms, max_memory_mb, memory_mb, status, error_type) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (request_id, metrics["function"], metrics["version"], timestamp, metrics["duration_ms"],
             metrics["billed_ms"], metrics.get("init_ms"), metrics["max_memory_mb"], metrics["memory_mb"],
             metrics["status"], metrics.get("error_type")),
        )
        (count,) = svc.conn.execute("SELECT COUNT(*) FROM log_events WHERE log_group = ?", (log_group,)).fetchone()
        if count > keep:
            svc.conn.execute(
                "DELETE FROM log_events WHERE id IN (SELECT id FROM log_events WHERE log_group = ? ORDER BY id LIMIT ?)",
                (log_group, count - keep),
            )


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
