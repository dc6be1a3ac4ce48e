"""Publishing immutable versions of a function.

A version is a frozen copy of $LATEST's code and configuration under the next number; numbers only
grow. Publishing unchanged code and configuration returns the last version instead of a new one.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .functions import LATEST, _code_sha_hex, load_version, new_revision, save_version

if TYPE_CHECKING:
    from . import Service

# Members that make a version differ from another (a new Description alone does not).
_IDENTITY_IGNORES = frozenset({"Version", "RevisionId", "LastModified", "Description", "FunctionArn"})


def _identity(stored: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in stored.items() if k not in _IDENTITY_IGNORES}, sort_keys=True)


def publish_locked(svc: Service, name: str, description: str | None) -> dict[str, Any]:
    """Publish $LATEST; the caller holds the write transaction. Returns the version's stored config."""
    latest = load_version(svc, name, LATEST)
    row = svc.conn.execute(
        "SELECT config FROM versions WHERE function = ? AND version_num > 0 ORDER BY version_num DESC LIMIT 1",
        (name,),
    ).fetchone()
    if row is not None:
        last = json.loads(row[0])
        if _identity(last) == _identity(latest):
            return last
    (number,) = svc.conn.execute("SELECT next_version FROM functions WHERE name = ?", (name,)).fetchone()
    version = dict(latest)
    version["Version"] = str(number)
    version["RevisionId"] = new_revision()
    if description is not None:
        version["Description"] = description
    save_version(svc, name, str(number), version, _code_sha_hex(latest))
    svc.conn.execute("UPDATE functions SET next_version = ? WHERE name = ?", (number + 1, name))
    return version
