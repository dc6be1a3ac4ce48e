"""The registry's schema as ordered migrations: each step is applied once, in order, and never
edited after release; `PRAGMA user_version` records how many have run."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from sqlite_utils import Database


def m001_functions(db: Database) -> None:
    db["functions"].create(
        {
            "name": str,
            "created": float,
            "tags": str,  # JSON object
            "next_version": int,  # version numbers only grow, never reused
            "reserved_concurrency": int,
        },
        pk="name",
        not_null={"created", "tags", "next_version"},
        defaults={"tags": "{}", "next_version": 1},
    )
    # One row per version of a function; '$LATEST' is the mutable one (version_num 0).
    db["versions"].create(
        {
            "function": str,
            "version": str,
            "version_num": int,
            "config": str,  # JSON: the stored FunctionConfiguration members
            "code_sha": str,  # hex sha256 of the zip in code/<sha>.zip
            "code_size": int,  # bytes, summed for the account's code storage
            "revision_id": str,
            "last_modified": str,
        },
        pk=("function", "version"),
        foreign_keys=[("function", "functions", "name")],
        not_null={"version_num", "config", "code_sha", "code_size", "revision_id", "last_modified"},
    )
    db.execute("CREATE INDEX versions_code_sha ON versions(code_sha)")
    # list-functions pages: $LATEST rows by name, and every version by (name, number).
    db.execute("CREATE INDEX versions_latest ON versions(version_num, function)")
    db.execute("CREATE UNIQUE INDEX versions_order ON versions(function, version_num)")


MIGRATIONS: list[Callable[[Database], None]] = [m001_functions]
SCHEMA_VERSION = len(MIGRATIONS)
