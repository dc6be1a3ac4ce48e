"""Cost of storing invocation logs: `write_records` (with its retention accounting) beside the
same rows inserted with no accounting at all, in one run and one registry.

Usage: python benchmarks/log_writes.py [--batches 400] [--batch 20] [--groups 4] [--prefill 10000]

Each batch is what the server's BatchingSink writes in one transaction: `--batch` records of
~1 KB spread over `--groups` log groups that already hold `--prefill` events each. The floor is
the two bare INSERTs (log event and invocation row) per record in one transaction, so the ratio
is what retention costs on the invoke path. A second run sets caps under what the prefill holds,
so the run keeps trimming (the steady state of a home whose logs are full).
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
import uuid
from pathlib import Path


def make_records(n: int, groups: int, size: int, stamp: float) -> list:
    out = []
    for i in range(n):
        rid = str(uuid.uuid4())
        group = f"/aws/lambda/f{i % groups}"
        out.append((
            (group, "2024/01/01/[$LATEST]00", rid, stamp, os.urandom(size // 2).hex().encode()),
            (rid, f"f{i % groups}", "$LATEST", stamp, 1.0, 1, None, 40, 128, "success", None),
        ))
    return out


def bare_insert(svc, records: list) -> None:  # type: ignore[no-untyped-def]
    from lambdactl.registry.db import write_transaction

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


def run(label: str, write, home: Path, args: argparse.Namespace, config: dict) -> float:  # type: ignore[no-untyped-def]
    from lambdactl.service import Service
    from lambdactl.service.logs import write_records
    from lambdactl.settings import Settings

    svc = Service(Settings(home, config=config))
    now = time.time()
    for _ in range(args.prefill * args.groups // 500):
        write_records(svc, make_records(500, args.groups, args.size, now))
    batches = [make_records(args.batch, args.groups, args.size, now) for _ in range(args.batches)]
    start = time.perf_counter()
    for b in batches:
        write(svc, b)
    elapsed = time.perf_counter() - start
    svc.close()
    rate = args.batches * args.batch / elapsed
    print(f"{label:<44} {rate:>10,.0f} records/s  {elapsed / args.batches * 1000:>7.3f} ms/batch")
    return rate


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=400)
    parser.add_argument("--batch", type=int, default=20)
    parser.add_argument("--groups", type=int, default=4)
    parser.add_argument("--prefill", type=int, default=10_000)
    parser.add_argument("--size", type=int, default=1000)
    args = parser.parse_args()
    from lambdactl.service.logs import write_records

    with tempfile.TemporaryDirectory() as tmp:
        floor = run("bare inserts (floor)", bare_insert, Path(tmp) / "a", args, {})
        default = run("write_records, default retention", write_records, Path(tmp) / "b", args, {})
        # caps under what the prefill holds: the run trims as a full home does
        mb = args.prefill * args.size / 1e6 * 0.9
        tight = {"logs": {"max_mb_per_function": mb, "max_mb_total": mb * args.groups,
                          "retained_events": int(args.prefill * 0.9)}}
        trimming = run("write_records, caps reached (trimming)", write_records, Path(tmp) / "c", args, tight)
    print(f"\nratio to the floor: default {floor / default:.2f}x, trimming {floor / trimming:.2f}x "
          "(1.00x = no cost)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
