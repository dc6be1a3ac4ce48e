"""Reserved and provisioned concurrency, and the leases that enforce concurrency at invoke time.

Reserved concurrency is function-wide (`functions.reserved_concurrency`); provisioned concurrency
is per alias or published version (`provisioned_concurrency`). The account pool comes from
`concurrency.account_limit` in config.toml; at least `MIN_UNRESERVED_CONCURRENCY` of it always
stays unreserved. A running invocation holds a lease row naming its process, so any number of
CLI processes and a server share one count, and a lease whose process died is reclaimed by the
next caller. This module knows nothing of how an invocation runs.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from contextlib import contextmanager

from .. import limits
from ..errors import LambdaError, invalid, not_found
from ..models import new_uuid, timestamp
from ..registry.db import write_transaction
from ._configs import list_options, page, require_target
from ._validate import Validator
from .account import account_concurrency_limit
from .functions import LATEST, arn, resolve_function_name

TYPE_CHECKING = False
if TYPE_CHECKING:
    import sqlite3
    from typing import Any

    from . import Service

PROVISIONED_ORDER = (
    "RequestedProvisionedConcurrentExecutions", "AvailableProvisionedConcurrentExecutions",
    "AllocatedProvisionedConcurrentExecutions", "Status", "StatusReason", "LastModified",
)
# PutProvisionedConcurrencyConfig's model lists Allocated before Available (Get the reverse).
PUT_PROVISIONED_ORDER = (
    "RequestedProvisionedConcurrentExecutions", "AllocatedProvisionedConcurrentExecutions",
    "AvailableProvisionedConcurrentExecutions", "Status", "StatusReason", "LastModified",
)


# ---------------------------------------------------------------------------------------------
# The account pool


def _reserved_sum(conn: sqlite3.Connection, skip_function: str | None = None) -> int:
    (total,) = conn.execute(
        "SELECT COALESCE(SUM(reserved_concurrency), 0) FROM functions WHERE name IS NOT ?",
        (skip_function,),
    ).fetchone()
    return int(total)


def _unreserved_provisioned_sum(
    conn: sqlite3.Connection, skip_function: str | None = None, skip_qualifier: str | None = None
) -> int:
    """Provisioned concurrency of functions without a reservation: it comes out of the shared pool.

    Leaves out `skip_function` (only its `skip_qualifier` configuration when one is named).
    """
    (total,) = conn.execute(
        "SELECT COALESCE(SUM(p.requested), 0) FROM provisioned_concurrency p "
        "JOIN functions f ON f.name = p.function WHERE f.reserved_concurrency IS NULL "
        "AND NOT (p.function IS ? AND (? IS NULL OR p.qualifier = ?))",
        (skip_function, skip_qualifier, skip_qualifier),
    ).fetchone()
    return int(total)


def unreserved_concurrency(svc: Service, conn: sqlite3.Connection | None = None) -> int:
    """The account's UnreservedConcurrentExecutions: the pool minus what functions have set aside."""
    c = conn or svc.conn
    return account_concurrency_limit(svc) - _reserved_sum(c) - _unreserved_provisioned_sum(c)


def _function_row(svc: Service, name: str) -> tuple[int | None] | None:
    row: tuple[int | None] | None = svc.conn.execute(
        "SELECT reserved_concurrency FROM functions WHERE name = ?", (name,)
    ).fetchone()
    return row


def _provisioned_total(conn: sqlite3.Connection, name: str, skip_qualifier: str | None = None) -> int:
    (total,) = conn.execute(
        "SELECT COALESCE(SUM(requested), 0) FROM provisioned_concurrency "
        "WHERE function = ? AND qualifier IS NOT ?",
        (name, skip_qualifier),
    ).fetchone()
    return int(total)


# ---------------------------------------------------------------------------------------------
# Reserved concurrency


def _unqualified_name(svc: Service, req: dict[str, Any], v: Validator) -> str:
    v.string("FunctionName", required=True, min_len=1, max_len=limits.MAX_FUNCTION_ARN_CHARS_CREATE)
    v.check()
    name, qualifier = resolve_function_name(
        svc, req.get("FunctionName"), max_len=limits.MAX_FUNCTION_ARN_CHARS_CREATE
    )
    if qualifier is not None:
        raise invalid(
            "This operation is permitted on Lambda functions only. Aliases and versions do not "
            "support this operation. Please specify either a function name or an unqualified "
            "function ARN."
        )
    return name


def put_function_concurrency(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    reserved = v.integer("ReservedConcurrentExecutions", required=True, minimum=0)
    name = _unqualified_name(svc, req, v)
    assert reserved is not None
    with write_transaction(svc.conn):
        if _function_row(svc, name) is None:
            raise not_found(f"Function not found: {arn(svc, name, LATEST)}")
        # The new reservation replaces this function's current one and covers its provisioned
        # concurrency, so neither counts against it.
        remaining = (
            account_concurrency_limit(svc) - _reserved_sum(svc.conn, name)
            - _unreserved_provisioned_sum(svc.conn, name) - reserved
        )
        if remaining < limits.MIN_UNRESERVED_CONCURRENCY:
            raise invalid(
                "Specified ReservedConcurrentExecutions for function decreases account's "
                "UnreservedConcurrentExecution below its minimum value of "
                f"[{limits.MIN_UNRESERVED_CONCURRENCY}]."
            )
        provisioned = _provisioned_total(svc.conn, name)
        if provisioned > reserved:
            raise invalid(
                f"ReservedConcurrentExecutions {reserved} should not be lower than function's "
                f"total provisioned concurrency [{provisioned}]."
            )
        svc.conn.execute("UPDATE functions SET reserved_concurrency = ? WHERE name = ?", (reserved, name))
    return {"ReservedConcurrentExecutions": reserved}


def get_function_concurrency(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    name = _unqualified_name(svc, req, Validator(req))
    row = _function_row(svc, name)
    if row is None:
        raise not_found(f"Function not found: {arn(svc, name)}")
    return {} if row[0] is None else {"ReservedConcurrentExecutions": row[0]}


def delete_function_concurrency(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    name = _unqualified_name(svc, req, Validator(req))
    with write_transaction(svc.conn):
        if _function_row(svc, name) is None:
            raise not_found(f"Function not found: {arn(svc, name, LATEST)}")
        svc.conn.execute("UPDATE functions SET reserved_concurrency = NULL WHERE name = ?", (name,))
    return {}


# ---------------------------------------------------------------------------------------------
# Provisioned concurrency


def _provisioned_request(svc: Service, req: dict[str, Any], v: Validator) -> tuple[str, str]:
    """Validate FunctionName and Qualifier; return (name, qualifier) of an existing alias or version."""
    v.string("FunctionName", required=True, min_len=1, max_len=limits.MAX_FUNCTION_ARN_CHARS_CREATE)
    v.string("Qualifier", required=True)
    v.check()
    name, qualifier = resolve_function_name(
        svc, req.get("FunctionName"), req.get("Qualifier"), max_len=limits.MAX_FUNCTION_ARN_CHARS_CREATE
    )
    assert qualifier is not None
    return name, qualifier


def _check_target(svc: Service, name: str, qualifier: str) -> None:
    """The alias or published version must exist; Lambda words the two misses differently."""
    alias_missing = None if qualifier.isdigit() else f"Cannot find alias arn: {arn(svc, name, qualifier)}"
    require_target(svc, name, qualifier, alias_missing)


def _not_latest(qualifier: str) -> None:
    if qualifier == LATEST:
        raise invalid("The function resource provided must be an alias or a published version.")


def _render_provisioned(row: tuple[Any, ...], order: tuple[str, ...] = PROVISIONED_ORDER) -> dict[str, Any]:
    requested, status, reason, last_modified = row
    # Environments are started on demand locally: the requested number counts as allocated at once.
    ready = requested if status == "READY" else 0
    out = {
        "RequestedProvisionedConcurrentExecutions": requested,
        "AvailableProvisionedConcurrentExecutions": ready,
        "AllocatedProvisionedConcurrentExecutions": ready,
        "Status": status,
        "StatusReason": reason,
        "LastModified": last_modified,
    }
    return {k: out[k] for k in order if out[k] is not None}


def put_provisioned_concurrency_config(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    requested = v.integer("ProvisionedConcurrentExecutions", required=True, minimum=1)
    name, qualifier = _provisioned_request(svc, req, v)
    assert requested is not None
    if qualifier == LATEST:
        raise invalid("Provisioned Concurrency Configs cannot be applied to unpublished function versions.")
    conn = svc.conn
    with write_transaction(conn):
        _check_target(svc, name, qualifier)
        _check_alias_conflicts(conn, name, qualifier)
        row = _function_row(svc, name)
        reserved = row[0] if row else None
        if reserved is not None:
            if _provisioned_total(conn, name, qualifier) + requested > reserved:
                raise invalid(
                    "Requested Provisioned Concurrency should not be greater than the "
                    "reservedConcurrentExecution for function"
                )
        else:
            available = (
                account_concurrency_limit(svc) - _reserved_sum(conn)
                - _unreserved_provisioned_sum(conn, name, qualifier)
            )
            if requested > available:
                raise invalid(
                    "Specified ConcurrentExecutions for function is greater than account's "
                    f"unreserved concurrency [{available}]."
                )
            if available - requested < limits.MIN_UNRESERVED_CONCURRENCY:
                raise invalid(
                    "Specified ConcurrentExecutions for function decreases account's "
                    "UnreservedConcurrentExecution below its minimum value of "
                    f"[{limits.MIN_UNRESERVED_CONCURRENCY}]."
                )
        record = (requested, "READY", None, timestamp(svc.clock()))
        conn.execute(
            "INSERT OR REPLACE INTO provisioned_concurrency "
            "(function, qualifier, requested, status, status_reason, last_modified) VALUES (?, ?, ?, ?, ?, ?)",
            (name, qualifier, *record),
        )
    return _render_provisioned(record, PUT_PROVISIONED_ORDER)


def _check_alias_conflicts(conn: sqlite3.Connection, name: str, qualifier: str) -> None:
    """A version and an alias pointing to it cannot both hold provisioned concurrency."""
    if qualifier.isdigit():
        taken = conn.execute(
            "SELECT 1 FROM aliases a JOIN provisioned_concurrency p "
            "ON p.function = a.function AND p.qualifier = a.name "
            "WHERE a.function = ? AND a.function_version = ?",
            (name, qualifier),
        ).fetchone()
        if taken:
            raise LambdaError("ResourceConflictException", "Version is pointed by a Provisioned Concurrency alias")
        return
    taken = conn.execute(
        "SELECT 1 FROM aliases a JOIN provisioned_concurrency p "
        "ON p.function = a.function AND p.qualifier = a.function_version "
        "WHERE a.function = ? AND a.name = ?",
        (name, qualifier),
    ).fetchone()
    if taken:
        raise LambdaError(
            "ResourceConflictException",
            "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version",
        )


def _provisioned_row(svc: Service, name: str, qualifier: str) -> tuple[Any, ...] | None:
    row: tuple[Any, ...] | None = svc.conn.execute(
        "SELECT requested, status, status_reason, last_modified FROM provisioned_concurrency "
        "WHERE function = ? AND qualifier = ?",
        (name, qualifier),
    ).fetchone()
    return row


def get_provisioned_concurrency_config(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    name, qualifier = _provisioned_request(svc, req, Validator(req))
    _not_latest(qualifier)
    _check_target(svc, name, qualifier)
    row = _provisioned_row(svc, name, qualifier)
    if row is None:
        raise LambdaError(
            "ProvisionedConcurrencyConfigNotFoundException",
            "No Provisioned Concurrency Config found for this function",
        )
    return _render_provisioned(row)


def delete_provisioned_concurrency_config(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    name, qualifier = _provisioned_request(svc, req, Validator(req))
    _not_latest(qualifier)
    with write_transaction(svc.conn):
        _check_target(svc, name, qualifier)
        # Lambda answers 204 whether or not a configuration existed.
        svc.conn.execute(
            "DELETE FROM provisioned_concurrency WHERE function = ? AND qualifier = ?", (name, qualifier)
        )
    return {}


def list_provisioned_concurrency_configs(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    v = Validator(req)
    marker, max_items = list_options(v)
    name = _unqualified_name(svc, req, v)
    if _function_row(svc, name) is None:
        raise not_found(f"Function not found: {arn(svc, name)}")
    rows = svc.conn.execute(
        "SELECT qualifier, requested, status, status_reason, last_modified FROM provisioned_concurrency "
        "WHERE function = ?",
        (name,),
    ).fetchall()
    items = [(r[0], {"FunctionArn": arn(svc, name, r[0]), **_render_provisioned(r[1:])}) for r in rows]
    configs, next_marker = page(items, marker, max_items)
    out: dict[str, Any] = {"ProvisionedConcurrencyConfigs": configs}
    if next_marker:
        out["NextMarker"] = next_marker
    return out


def provisioned_targets(svc: Service, name: str | None = None) -> list[tuple[str, str, int]]:
    """(function, qualifier, requested) of every provisioned-concurrency config (of one function)."""
    rows = svc.conn.execute(
        "SELECT function, qualifier, requested FROM provisioned_concurrency" + (" WHERE function = ?" if name else ""),
        (name,) if name else (),
    ).fetchall()
    return [(f, q, int(n)) for f, q, n in rows]


def set_provisioned_status(svc: Service, name: str, qualifier: str, status: str, reason: str | None) -> None:
    """Record how starting a config's environments went (READY, or FAILED with why)."""
    with write_transaction(svc.conn):
        svc.conn.execute(
            "UPDATE provisioned_concurrency SET status = ?, status_reason = ? WHERE function = ? AND qualifier = ?",
            (status, reason, name, qualifier),
        )


def provisioned_concurrency(svc: Service, name: str, qualifier: str) -> int:
    """How many environments should be kept initialised for this alias or version (0 if none)."""
    row = _provisioned_row(svc, name, qualifier)
    return int(row[0]) if row else 0


# ---------------------------------------------------------------------------------------------
# Provisioned environments follow the registry (only where the service has warm environments)


def provision(svc: Service, req: dict[str, Any]) -> dict[str, Any]:
    """The internal operation `lambdactl:Provision`: start the environments that provisioned-
    concurrency configs ask for (all functions, or `FunctionName`'s), initialised with
    AWS_LAMBDA_INITIALIZATION_TYPE=provisioned-concurrency, and record READY or FAILED on each
    config. Without warm environments nothing is started (the CLI keeps none)."""
    if svc.environments is None:
        return {}
    from functools import partial

    from .functions import resolve_version
    from .invoke import build_spec, environment_key, find_local_runtime

    pool = svc.environments
    for function, qualifier, requested in provisioned_targets(svc, req.get("FunctionName")):
        try:
            version, stored = resolve_version(svc, function, qualifier)
            runtime = find_local_runtime(svc, stored["Runtime"])
            key = environment_key(function, version, stored)
            ready = pool.provision(key, partial(build_spec, svc, stored, version), runtime, requested)
            status, reason = ("READY", None) if ready == requested else ("FAILED", f"{requested - ready} of {requested} environments failed to initialise")
        except LambdaError as exc:
            status, reason = "FAILED", exc.message
        set_provisioned_status(svc, function, qualifier, status, reason)
    return {}


def follow_change(svc: Service, op: str, request: dict[str, Any]) -> None:
    """After `op` succeeded: keep warm environments and kept leases in step with the registry
    (`Service.call` runs this for `ENVIRONMENT_CHANGES` when it has either collaborator)."""
    try:
        name, qualifier = resolve_function_name(svc, request.get("FunctionName"), request.get("Qualifier"))
    except LambdaError:
        return
    if svc.leases is not None and op in ("PutFunctionConcurrency", "DeleteFunctionConcurrency", "DeleteFunction"):
        svc.leases.forget(name)
    pool = svc.environments
    if pool is None:
        return
    if op == "DeleteFunction" and qualifier is None:
        pool.retire(name, provisioned=True)
    elif op in ("PutProvisionedConcurrencyConfig", "DeleteProvisionedConcurrencyConfig"):
        # As on AWS, the call answers at once and the environments come up behind it; the
        # thread gets a service of its own (a SQLite connection belongs to one thread).
        import threading

        def reprovision() -> None:
            pool.unprovision((name,))
            other = svc.sibling()
            try:
                other.call("lambdactl:Provision", {"FunctionName": name})
            finally:
                other.close()

        threading.Thread(target=reprovision, name="provision", daemon=True).start()


# ---------------------------------------------------------------------------------------------
# Leases: concurrency enforced across processes


_BOOT_ID: str | None = None


def _boot_id() -> str:
    global _BOOT_ID
    if _BOOT_ID is None:
        try:
            with open("/proc/sys/kernel/random/boot_id") as fh:
                _BOOT_ID = fh.read().strip()
        except OSError:
            _BOOT_ID = ""
    return _BOOT_ID


def process_token(pid: int) -> str | None:
    """Boot id and start time of a live process; None if it is gone or a zombie.

    A pid is reused once its process is gone; the start time (field 22 of /proc/PID/stat) and the
    boot id tell a recycled pid from the process that took the lease. Without /proc (not Linux)
    the token is empty and only the pid is checked.
    """
    try:
        with open(f"/proc/{pid}/stat") as fh:
            stat = fh.read()
    except FileNotFoundError:
        return None
    except OSError:
        return ""
    # The command name (field 2) may hold spaces and parentheses: split after the last ')'.
    fields = stat.rsplit(")", 1)[1].split()
    if fields[0] in ("Z", "X"):
        return None
    return f"{_boot_id()}:{fields[19]}"


def _lease_alive(pid: int, token: str | None) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # exists, owned by another user
    current = process_token(pid)
    if current is None:
        return False
    return not token or not current or current == token


_REAP_INTERVAL_S = 1.0
_last_reap = 0.0


def _reap_stale_leases(conn: sqlite3.Connection, *, force: bool = False) -> None:
    """Drop leases of processes that are gone. At most once a second per process (a warm server
    acquires thousands of leases a second; a dead holder's lease may wait a second more)."""
    global _last_reap
    now = time.monotonic()
    if not force and now - _last_reap < _REAP_INTERVAL_S:
        return
    _last_reap = now
    stale = [
        (lease_id,)
        for lease_id, pid, token in conn.execute("SELECT id, pid, host_boot FROM leases").fetchall()
        if not _lease_alive(pid, token)
    ]
    if stale:
        conn.executemany("DELETE FROM leases WHERE id = ?", stale)


def _throttle(reason: str) -> LambdaError:
    return LambdaError("TooManyRequestsException", "Rate Exceeded.", 429, Reason=reason)


def _over_limit(svc: Service, conn: sqlite3.Connection, function_name: str, reserved: int | None) -> str | None:
    """The throttle reason if one more invocation would exceed the function's or the account's
    concurrency, else None."""
    if reserved is not None:
        (held,) = conn.execute("SELECT COUNT(*) FROM leases WHERE function = ?", (function_name,)).fetchone()
        return "ReservedFunctionConcurrentInvocationLimitExceeded" if held >= reserved else None
    (held,) = conn.execute(
        "SELECT COUNT(*) FROM leases l JOIN functions f ON f.name = l.function "
        "WHERE f.reserved_concurrency IS NULL"
    ).fetchone()
    return "ConcurrentInvocationLimitExceeded" if held >= unreserved_concurrency(svc, conn) else None


def acquire_lease(svc: Service, function_name: str) -> str:
    """Take one unit of concurrency for an invocation of `function_name` by this process.

    Refused with TooManyRequestsException when the function's reserved concurrency is used up
    (0 refuses always) or, for a function without a reservation, when the account's unreserved
    pool is. Returns the lease id to hand to `release_lease`; a lease whose process dies without
    releasing it is reclaimed by the next acquirer.
    """
    conn = svc.conn
    pid = os.getpid()
    with write_transaction(conn):
        _reap_stale_leases(conn)
        row = _function_row(svc, function_name)
        if row is None:
            raise not_found(f"Function not found: {arn(svc, function_name)}")
        refusal = _over_limit(svc, conn, function_name, row[0])
        if refusal is not None:
            # Before refusing, make sure no dead process holds what we lack.
            _reap_stale_leases(conn, force=True)
            refusal = _over_limit(svc, conn, function_name, row[0])
        if refusal is not None:
            raise _throttle(refusal)
        lease_id = new_uuid()
        conn.execute(
            "INSERT INTO leases (id, function, pid, host_boot, acquired) VALUES (?, ?, ?, ?, ?)",
            (lease_id, function_name, pid, process_token(pid) or "", svc.clock()),
        )
    return lease_id


def release_lease(svc: Service, lease_id: str) -> None:
    """Give a lease back; releasing one already reclaimed or released is harmless."""
    with write_transaction(svc.conn):
        svc.conn.execute("DELETE FROM leases WHERE id = ?", (lease_id,))


@contextmanager
def lease(svc: Service, function_name: str) -> Iterator[str]:
    """`with lease(svc, name):` holds one unit of concurrency for the duration of the block."""
    lease_id = acquire_lease(svc, function_name)
    try:
        yield lease_id
    finally:
        release_lease(svc, lease_id)


# ---------------------------------------------------------------------------------------------
# Cleanup when a function goes


def delete_function_configs(svc: Service, name: str, qualifier: str | None = None) -> None:
    """Drop the concurrency, async and URL configuration of a function (or of one qualifier).

    Runs inside delete-function's write transaction; the reservation goes with the functions row.
    """
    tables = ("provisioned_concurrency", "event_invoke_configs", "url_configs")
    for table in tables:
        if qualifier is None:
            svc.conn.execute(f"DELETE FROM {table} WHERE function = ?", (name,))
        else:
            svc.conn.execute(f"DELETE FROM {table} WHERE function = ? AND qualifier = ?", (name, qualifier))
    if qualifier is None:
        svc.conn.execute("DELETE FROM leases WHERE function = ?", (name,))
