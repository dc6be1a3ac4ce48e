"""Versions: publish-version (immutable snapshots of $LATEST) and list-versions-by-function.

A version freezes $LATEST's code and configuration under the next number; numbers only grow and
are never reused. Publishing unchanged code and configuration returns the last version instead.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

from .. import limits
from ..errors import check_revision, invalid
from ._validate import Validator
from .functions import (
    LATEST,
    code_sha_hex,
    decode_marker,
    encode_marker,
    load_version,
    new_revision,
    render_configuration,
    resolve_function_name,
    save_version,
)

if TYPE_CHECKING:
    from . import Service

# Members that make a version differ from another (a new Description alone does not).
_IDENTITY_IGNORES = frozenset({"Version", "RevisionId", "LastModified", "Description", "FunctionArn", "State", "LastUpdateStatus"})


def _identity(stored: dict[str, Any]) -> str:
    return json.dumps({k: v for k, v in stored.items() if k not in _IDENTITY_IGNORES}, sort_keys=True)


def publish_locked(svc: Service, name: str, description: str | None) -> dict[str, Any]:
    """Publish $LATEST; the caller holds the write transaction. Returns the version's stored config.

    A --code-dir function is frozen from its folder as it is now: the version gets a real zip.
    """
    latest = load_version(svc, name, LATEST)
    if "_CodeDir" in latest:
        from .codedir import snapshot
        from .functions import check_code_zip, sha_b64, store_code

        data = snapshot(latest["_CodeDir"])
        sha_hex, unzipped = check_code_zip(data)
        store_code(svc, data, sha_hex)
        latest = {k: v for k, v in latest.items() if k != "_CodeDir"}
        latest.update(CodeSha256=sha_b64(sha_hex), CodeSize=len(data), _UnzippedSize=unzipped)
    row = svc.conn.execute(
        "SELECT config FROM versions WHERE function = ? AND version_num > 0 ORDER BY version_num DESC LIMIT 1",
        (name,),
    ).fetchone()
    if row is not None:
        last: dict[str, Any] = json.loads(row[0])
        if _identity(last) == _identity(latest):
            return last
    (number,) = svc.conn.execute("SELECT next_version FROM functions WHERE name = ?", (name,)).fetchone()
    version = dict(latest)
    version["Version"] = str(number)
    version["RevisionId"] = new_revision()
    if description is not None:
        version["Description"] = description
    save_version(svc, name, str(number), version, code_sha_hex(latest))
    svc.conn.execute("UPDATE functions SET next_version = ? WHERE name = ?", (number + 1, name))
    return version


def publish_version(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    v.string("FunctionName", required=True)
    code_sha = v.string("CodeSha256")
    description = v.string("Description", max_len=limits.MAX_DESCRIPTION_CHARS)
    revision = v.string("RevisionId")
    v.check()
    name, qualifier = resolve_function_name(svc, req["FunctionName"], max_len=140)
    if qualifier is not None:
        raise invalid(f"Unsupported qualifier in function name: {req['FunctionName']}")
    from ..registry.db import write_transaction

    with write_transaction(svc.conn):
        latest = load_version(svc, name, LATEST)
        if code_sha is not None and code_sha != latest["CodeSha256"]:
            raise invalid(
                f"CodeSHA256 ({code_sha}) is different from current CodeSHA256 in $LATEST "
                f"({latest['CodeSha256']}). Please try again with the CodeSHA256 in $LATEST."
            )
        check_revision(revision, latest["RevisionId"])
        version = publish_locked(svc, name, description)
    return render_configuration(svc, version, arn_qualifier=version["Version"])


def list_versions_by_function(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    v.string("FunctionName", required=True)
    marker = v.string("Marker")
    max_items = v.integer("MaxItems", minimum=1, maximum=limits.MAX_LIST_ITEMS)
    v.check()
    name, _ = resolve_function_name(svc, req["FunctionName"], allow_qualifier=False)
    load_version(svc, name, LATEST)  # 404 for an unknown function
    page = min(max_items or limits.LIST_FUNCTIONS_PAGE, limits.LIST_FUNCTIONS_PAGE)
    start = decode_marker(marker)
    after = start[1] if start is not None else -1
    rows = svc.conn.execute(
        "SELECT version_num, version, config FROM versions WHERE function = ? AND version_num > ? "
        "ORDER BY version_num LIMIT ?",
        (name, after, page + 1),
    ).fetchall()
    from .functions import listing_items

    items = listing_items(svc, ((cfg, ver) for _, ver, cfg in rows[:page]))
    out: dict[str, Any] = {"Versions": items}
    if len(rows) > page:
        out["NextMarker"] = encode_marker(name, rows[page - 1][0])
    return out
