"""Aliases: named pointers to a version, optionally splitting traffic with a second version.

Also the qualifier resolution invoke needs: an alias's weighted pick of the version to run.
"""

from __future__ import annotations

import json
import random
import re
from typing import TYPE_CHECKING, Any

from .. import limits
from ..errors import LambdaError, check_revision, conflict, invalid, not_found
from ..models import ALIAS_NAME_RE
from ._validate import Validator
from .functions import (
    LATEST,
    arn,
    decode_marker,
    encode_marker,
    load_version,
    new_revision,
    resolve_function_name,
)

if TYPE_CHECKING:
    import sqlite3

    from . import Service

VERSION_RE = re.compile(r"(\$LATEST|[0-9]+)")
MAX_DESCRIPTION = limits.MAX_DESCRIPTION_CHARS


def alias_arn(svc: Service, function: str, alias: str) -> str:
    return arn(svc, function, alias)


def _row(svc: Service, function: str, alias: str, conn: sqlite3.Connection | None = None) -> tuple[str, str, str, str] | None:
    c = conn or svc.conn
    row = c.execute(
        "SELECT function_version, description, routing, revision_id FROM aliases WHERE function = ? AND name = ?",
        (function, alias),
    ).fetchone()
    return tuple(row) if row else None


def _shape(svc: Service, function: str, alias: str, row: tuple[str, str, str, str]) -> dict[str, Any]:
    version, description, routing, revision = row
    out: dict[str, Any] = {
        "AliasArn": alias_arn(svc, function, alias),
        "Name": alias,
        "FunctionVersion": version,
        "Description": description,
    }
    weights = json.loads(routing)
    if weights:
        out["RoutingConfig"] = {"AdditionalVersionWeights": weights}
    out["RevisionId"] = revision
    return out


def _missing(svc: Service, function: str, alias: str) -> LambdaError:
    return not_found(f"Cannot find alias arn: {alias_arn(svc, function, alias)}")


def resolve_alias(
    svc: Service, function: str, alias: str, *, pick: bool, conn: sqlite3.Connection | None = None
) -> tuple[str, dict[str, Any]]:
    """Alias -> (version, stored config). With `pick`, weighted routing chooses the version."""
    row = _row(svc, function, alias, conn)
    if row is None:
        raise not_found(f"Function not found: {alias_arn(svc, function, alias)}")
    version = row[0]
    if pick:
        weights: dict[str, float] = json.loads(row[2])
        if weights:
            (extra, weight), = weights.items()
            if random.random() < float(weight):
                version = extra
    return version, load_version(svc, function, version, conn)


def _validate_routing(svc: Service, v: Validator, function: str, primary: str | None, routing: dict[str, Any] | None) -> dict[str, float] | None:
    if routing is None:
        return None
    weights = routing.get("AdditionalVersionWeights", {})
    if not isinstance(weights, dict):
        v.fail("RoutingConfig.AdditionalVersionWeights", weights, "Member must be a map")
        v.check()
    out: dict[str, float] = {}
    for key, weight in weights.items():
        if not isinstance(key, str) or not re.fullmatch(r"[0-9]+", key):
            raise invalid(f"Invalid function version {key}.")
        try:
            w = float(weight)
        except (TypeError, ValueError):
            raise invalid(f"Invalid weight {weight} for version {key}.") from None
        if not 0.0 <= w <= 1.0:
            v.fail(
                "RoutingConfig.AdditionalVersionWeights", weights,
                "Map value must satisfy constraint: [Member must have value less than or equal to 1.0, Member must have value greater than or equal to 0.0]",
            )
            v.check()
        out[key] = w
    if len(out) > 1:
        raise invalid("Number of items in AdditionalVersionWeights cannot be greater than 1")
    if out:
        if primary == LATEST:
            raise invalid("$LATEST is not supported for an alias pointing to more than 1 version")
        (extra,) = out
        if extra == primary:
            raise invalid(f"Invalid function version {extra}. Function version {extra} is already included in routing configuration.")
        load_version(svc, function, extra)
    return out


def _function_and_alias(svc: Service, req: dict[str, Any]) -> tuple[str, str]:
    v = Validator(req)
    v.string("FunctionName", required=True)
    name = v.string("Name", required=True, min_len=1, max_len=limits.MAX_ALIAS_NAME_CHARS, pattern=ALIAS_NAME_RE)
    v.check()
    function, _ = resolve_function_name(svc, req["FunctionName"], allow_qualifier=False)
    assert name is not None
    return function, name


def create_alias(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    version = v.string("FunctionVersion", required=True, min_len=1, max_len=1024, pattern=VERSION_RE)
    description = v.string("Description", max_len=MAX_DESCRIPTION)
    routing = v.structure("RoutingConfig")
    v.check()
    function, name = _function_and_alias(svc, req)
    from ..registry.db import write_transaction

    with write_transaction(svc.conn):
        load_version(svc, function, LATEST)
        assert version is not None
        load_version(svc, function, version)
        weights = _validate_routing(svc, v, function, version, routing) or {}
        if _row(svc, function, name) is not None:
            raise conflict(f"Alias already exists: {alias_arn(svc, function, name)}")
        row = (version, description or "", json.dumps(weights), new_revision())
        svc.conn.execute(
            "INSERT INTO aliases (function, name, function_version, description, routing, revision_id) VALUES (?, ?, ?, ?, ?, ?)",
            (function, name, *row),
        )
    return _shape(svc, function, name, row)


def get_alias(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    function, name = _function_and_alias(svc, req)
    load_version(svc, function, LATEST)
    row = _row(svc, function, name)
    if row is None:
        raise _missing(svc, function, name)
    return _shape(svc, function, name, row)


def update_alias(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    version = v.string("FunctionVersion", min_len=1, max_len=1024, pattern=VERSION_RE)
    description = v.string("Description", max_len=MAX_DESCRIPTION)
    routing = v.structure("RoutingConfig")
    revision = v.string("RevisionId")
    v.check()
    function, name = _function_and_alias(svc, req)
    from ..registry.db import write_transaction

    with write_transaction(svc.conn):
        load_version(svc, function, LATEST)
        row = _row(svc, function, name)
        if row is None:
            raise _missing(svc, function, name)
        current_version, current_desc, current_routing, current_rev = row
        check_revision(revision, current_rev)
        new_version = version or current_version
        if version is not None:
            load_version(svc, function, version)
        if routing is not None:
            weights = _validate_routing(svc, v, function, new_version, routing) or {}
        else:
            weights = json.loads(current_routing)
            if weights and (new_version == LATEST or new_version in weights):
                # The existing split must stay valid against the new primary version.
                _validate_routing(svc, v, function, new_version, {"AdditionalVersionWeights": weights})
        new_row = (new_version, current_desc if description is None else description, json.dumps(weights), new_revision())
        svc.conn.execute(
            "UPDATE aliases SET function_version = ?, description = ?, routing = ?, revision_id = ? WHERE function = ? AND name = ?",
            (*new_row, function, name),
        )
    return _shape(svc, function, name, new_row)


def delete_alias(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    function, name = _function_and_alias(svc, req)
    from ..registry.db import write_transaction

    with write_transaction(svc.conn):
        load_version(svc, function, LATEST)
        svc.conn.execute("DELETE FROM aliases WHERE function = ? AND name = ?", (function, name))
        svc.conn.execute("DELETE FROM policies WHERE function = ? AND qualifier = ?", (function, name))
        from .concurrency import delete_function_configs

        delete_function_configs(svc, function, name)
    return {}


def list_aliases(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    v.string("FunctionName", required=True)
    version = v.string("FunctionVersion", min_len=1, max_len=1024, pattern=VERSION_RE)
    marker = v.string("Marker")
    max_items = v.integer("MaxItems", minimum=1, maximum=limits.MAX_LIST_ITEMS)
    v.check()
    function, _ = resolve_function_name(svc, req["FunctionName"], allow_qualifier=False)
    load_version(svc, function, LATEST)
    page = min(max_items or limits.LIST_FUNCTIONS_PAGE, limits.LIST_FUNCTIONS_PAGE)
    start = decode_marker(marker)
    clauses, params = ["function = ?"], [function]
    if version is not None:
        clauses.append("function_version = ?")
        params.append(version)
    if start is not None:
        clauses.append("name > ?")
        params.append(start[0])
    rows = svc.conn.execute(
        "SELECT name, function_version, description, routing, revision_id FROM aliases WHERE "
        + " AND ".join(clauses) + " ORDER BY name LIMIT ?",
        (*params, page + 1),
    ).fetchall()
    out: dict[str, Any] = {"Aliases": [_shape(svc, function, r[0], tuple(r[1:])) for r in rows[:page]]}
    if len(rows) > page:
        out["NextMarker"] = encode_marker(rows[page - 1][0], 0)
    return out


def aliases_referencing(svc: Service, function: str, version: str) -> list[str]:
    names = []
    for name, primary, routing in svc.conn.execute(
        "SELECT name, function_version, routing FROM aliases WHERE function = ?", (function,)
    ):
        if primary == version or version in json.loads(routing):
            names.append(name)
    return names
