"""Reserved and provisioned concurrency on the library, and leases held by real processes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from lambdactl.errors import LambdaError
from lambdactl.registry.db import write_transaction
from lambdactl.service import Service
from lambdactl.service.concurrency import (
    _check_alias_conflicts,
    _lease_alive,
    acquire_lease,
    lease,
    process_token,
    release_lease,
)
from lambdactl.service.versions import publish_locked
from lambdactl.settings import Settings, write_config

from .conftest import create, error_of

ARN = "arn:aws:lambda:us-east-1:123456789012:function"
ROOT = Path(__file__).resolve().parent.parent


def put_reserved(svc: Service, name: str, n: int) -> dict:
    return svc.call("PutFunctionConcurrency", {"FunctionName": name, "ReservedConcurrentExecutions": n})


# ---------------------------------------------------------------------------------------------
# Reserved concurrency


def test_reserved_concurrency_lifecycle(svc: Service) -> None:
    create(svc, "f")
    assert svc.call("GetFunctionConcurrency", {"FunctionName": "f"}) == {}
    assert "Concurrency" not in svc.call("GetFunction", {"FunctionName": "f"})
    assert put_reserved(svc, "f", 0) == {"ReservedConcurrentExecutions": 0}
    assert put_reserved(svc, f"{ARN}:f", 7) == {"ReservedConcurrentExecutions": 7}
    assert svc.call("GetFunctionConcurrency", {"FunctionName": "f"}) == {"ReservedConcurrentExecutions": 7}
    assert svc.call("GetFunction", {"FunctionName": "f"})["Concurrency"] == {"ReservedConcurrentExecutions": 7}
    limit = svc.call("GetAccountSettings")["AccountLimit"]
    assert (limit["ConcurrentExecutions"], limit["UnreservedConcurrentExecutions"]) == (1000, 993)
    assert svc.call("DeleteFunctionConcurrency", {"FunctionName": "f"}) == {}
    assert svc.call("GetFunctionConcurrency", {"FunctionName": "f"}) == {}
    assert svc.call("GetAccountSettings")["AccountLimit"]["UnreservedConcurrentExecutions"] == 1000


def test_reservations_keep_100_unreserved(svc: Service) -> None:
    create(svc, "a")
    create(svc, "b")
    put_reserved(svc, "a", 500)
    put_reserved(svc, "b", 400)
    err = error_of(svc, "PutFunctionConcurrency", {"FunctionName": "b", "ReservedConcurrentExecutions": 401})
    assert (err.code, err.status) == ("InvalidParameterValueException", 400)
    assert err.message == (
        "Specified ReservedConcurrentExecutions for function decreases account's "
        "UnreservedConcurrentExecution below its minimum value of [100]."
    )
    # Replacing a reservation does not count the old one against the new.
    assert put_reserved(svc, "a", 400) == {"ReservedConcurrentExecutions": 400}
    assert put_reserved(svc, "b", 500) == {"ReservedConcurrentExecutions": 500}
    assert svc.call("GetAccountSettings")["AccountLimit"]["UnreservedConcurrentExecutions"] == 100


def test_account_limit_comes_from_config(home: Path) -> None:
    write_config(home, {"concurrency": {"account_limit": 150}})
    service = Service(Settings.load(home))
    try:
        create(service, "f")
        assert service.call("GetAccountSettings")["AccountLimit"]["ConcurrentExecutions"] == 150
        assert put_reserved(service, "f", 50) == {"ReservedConcurrentExecutions": 50}
        err = error_of(service, "PutFunctionConcurrency", {"FunctionName": "f", "ReservedConcurrentExecutions": 51})
        assert "minimum value of [100]" in err.message
    finally:
        service.close()


@pytest.mark.parametrize(
    ("request_", "code", "message"),
    [
        ({"FunctionName": "nope", "ReservedConcurrentExecutions": 1}, "ResourceNotFoundException", f"Function not found: {ARN}:nope:$LATEST"),
        ({"FunctionName": "nope", "ReservedConcurrentExecutions": 5000}, "ResourceNotFoundException", f"Function not found: {ARN}:nope:$LATEST"),
        ({"FunctionName": "f:1", "ReservedConcurrentExecutions": 1}, "InvalidParameterValueException", "This operation is permitted on Lambda functions only. Aliases and versions do not support this operation. Please specify either a function name or an unqualified function ARN."),
        ({"FunctionName": f"{ARN}:f:$LATEST", "ReservedConcurrentExecutions": 1}, "InvalidParameterValueException", "This operation is permitted on Lambda functions only."),
        ({"FunctionName": "f", "ReservedConcurrentExecutions": -1}, "ValidationException", "1 validation error detected: Value '-1' at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 0"),
        ({"FunctionName": "f"}, "ValidationException", "Value null at 'reservedConcurrentExecutions' failed to satisfy constraint: Member must not be null"),
        ({"FunctionName": "f" * 141, "ReservedConcurrentExecutions": 1}, "ValidationException", "at 'functionName' failed to satisfy constraint: Member must have length less than or equal to 140"),
        ({"FunctionName": "f", "ReservedConcurrentExecutions": 1001}, "InvalidParameterValueException", "below its minimum value of [100]."),
    ],
)
def test_put_function_concurrency_errors(svc: Service, request_: dict, code: str, message: str) -> None:
    create(svc, "f")
    err = error_of(svc, "PutFunctionConcurrency", request_)
    assert err.code == code
    assert message in err.message
    assert svc.call("GetFunctionConcurrency", {"FunctionName": "f"}) == {}


def test_get_and_delete_function_concurrency_errors(svc: Service) -> None:
    err = error_of(svc, "GetFunctionConcurrency", {"FunctionName": "nope"})
    assert (err.code, err.message, err.status) == ("ResourceNotFoundException", f"Function not found: {ARN}:nope", 404)
    err = error_of(svc, "DeleteFunctionConcurrency", {"FunctionName": "nope"})
    assert (err.code, err.message) == ("ResourceNotFoundException", f"Function not found: {ARN}:nope:$LATEST")
    create(svc, "f")
    err = error_of(svc, "GetFunctionConcurrency", {"FunctionName": "f:1"})
    assert err.code == "InvalidParameterValueException"


# ---------------------------------------------------------------------------------------------
# Provisioned concurrency


def put_provisioned(svc: Service, qualifier: str, n: int, name: str = "f") -> dict:
    return svc.call(
        "PutProvisionedConcurrencyConfig",
        {"FunctionName": name, "Qualifier": qualifier, "ProvisionedConcurrentExecutions": n},
    )


def publish_two(svc: Service) -> None:
    """Versions 1 and 2 of function f."""
    create(svc, "f", Publish=True)
    svc.call("UpdateFunctionConfiguration", {"FunctionName": "f", "Timeout": 9})
    with write_transaction(svc.conn):
        publish_locked(svc, "f", None)


def test_provisioned_concurrency_lifecycle(svc: Service) -> None:
    publish_two(svc)
    svc.clock = lambda: 1_700_000_000.25
    out = put_provisioned(svc, "1", 3)
    assert out == {
        "RequestedProvisionedConcurrentExecutions": 3,
        "AvailableProvisionedConcurrentExecutions": 3,
        "AllocatedProvisionedConcurrentExecutions": 3,
        "Status": "READY",
        "LastModified": "2023-11-14T22:13:20.250+0000",
    }
    assert svc.call("GetProvisionedConcurrencyConfig", {"FunctionName": "f", "Qualifier": "1"}) == out
    put_provisioned(svc, "2", 1, name=f"{ARN}:f")
    listed = svc.call("ListProvisionedConcurrencyConfigs", {"FunctionName": "f"})
    assert [c["FunctionArn"] for c in listed["ProvisionedConcurrencyConfigs"]] == [f"{ARN}:f:1", f"{ARN}:f:2"]
    assert listed["ProvisionedConcurrencyConfigs"][0] == {"FunctionArn": f"{ARN}:f:1", **out}
    assert "NextMarker" not in listed
    # Replacing a configuration changes it in place.
    assert put_provisioned(svc, "1", 5)["RequestedProvisionedConcurrentExecutions"] == 5
    # Provisioned concurrency of a function without a reservation comes out of the shared pool.
    assert svc.call("GetAccountSettings")["AccountLimit"]["UnreservedConcurrentExecutions"] == 994
    assert svc.call("DeleteProvisionedConcurrencyConfig", {"FunctionName": "f", "Qualifier": "1"}) == {}
    err = error_of(svc, "GetProvisionedConcurrencyConfig", {"FunctionName": "f", "Qualifier": "1"})
    assert (err.code, err.status) == ("ProvisionedConcurrencyConfigNotFoundException", 404)
    assert err.message == "No Provisioned Concurrency Config found for this function"
    # Deleting what is not there is not an error, as on AWS.
    assert svc.call("DeleteProvisionedConcurrencyConfig", {"FunctionName": "f", "Qualifier": "1"}) == {}


def test_provisioned_list_pages(svc: Service) -> None:
    publish_two(svc)
    put_provisioned(svc, "1", 1)
    put_provisioned(svc, "2", 1)
    first = svc.call("ListProvisionedConcurrencyConfigs", {"FunctionName": "f", "MaxItems": 1})
    assert [c["FunctionArn"] for c in first["ProvisionedConcurrencyConfigs"]] == [f"{ARN}:f:1"]
    second = svc.call(
        "ListProvisionedConcurrencyConfigs", {"FunctionName": "f", "MaxItems": 1, "Marker": first["NextMarker"]}
    )
    assert [c["FunctionArn"] for c in second["ProvisionedConcurrencyConfigs"]] == [f"{ARN}:f:2"]
    assert "NextMarker" not in second
    err = error_of(svc, "ListProvisionedConcurrencyConfigs", {"FunctionName": "f", "MaxItems": 51})
    assert "Member must have value less than or equal to 50" in err.message


def test_provisioned_within_reserved(svc: Service) -> None:
    publish_two(svc)
    put_reserved(svc, "f", 4)
    put_provisioned(svc, "1", 3)
    err = error_of(svc, "PutProvisionedConcurrencyConfig", {"FunctionName": "f", "Qualifier": "2", "ProvisionedConcurrentExecutions": 2})
    assert (err.code, err.message) == (
        "InvalidParameterValueException",
        "Requested Provisioned Concurrency should not be greater than the reservedConcurrentExecution for function",
    )
    put_provisioned(svc, "1", 4)  # replacing its own configuration does not count twice
    err = error_of(svc, "PutFunctionConcurrency", {"FunctionName": "f", "ReservedConcurrentExecutions": 3})
    assert err.message == "ReservedConcurrentExecutions 3 should not be lower than function's total provisioned concurrency [4]."
    # Within a reservation, provisioned concurrency takes nothing more from the pool.
    assert svc.call("GetAccountSettings")["AccountLimit"]["UnreservedConcurrentExecutions"] == 996


def test_provisioned_keeps_100_unreserved(svc: Service) -> None:
    publish_two(svc)
    err = error_of(svc, "PutProvisionedConcurrencyConfig", {"FunctionName": "f", "Qualifier": "1", "ProvisionedConcurrentExecutions": 1001})
    assert err.message == "Specified ConcurrentExecutions for function is greater than account's unreserved concurrency [1000]."
    err = error_of(svc, "PutProvisionedConcurrencyConfig", {"FunctionName": "f", "Qualifier": "1", "ProvisionedConcurrentExecutions": 901})
    assert err.message == (
        "Specified ConcurrentExecutions for function decreases account's UnreservedConcurrentExecution "
        "below its minimum value of [100]."
    )
    assert put_provisioned(svc, "1", 900)["RequestedProvisionedConcurrentExecutions"] == 900
    err = error_of(svc, "PutFunctionConcurrency", {"FunctionName": "f", "ReservedConcurrentExecutions": 899})
    assert "lower than function's total provisioned concurrency [900]" in err.message


def test_other_functions_provisioned_concurrency_counts_against_reservations(svc: Service) -> None:
    create(svc, "g", Publish=True)
    create(svc, "f")
    put_provisioned(svc, "1", 800, name="g")
    err = error_of(svc, "PutFunctionConcurrency", {"FunctionName": "f", "ReservedConcurrentExecutions": 101})
    assert "below its minimum value of [100]" in err.message
    assert put_reserved(svc, "f", 100) == {"ReservedConcurrentExecutions": 100}
    # Once g reserves, its provisioned concurrency lives inside that reservation.
    assert put_reserved(svc, "g", 800) == {"ReservedConcurrentExecutions": 800}
    assert svc.call("GetAccountSettings")["AccountLimit"]["UnreservedConcurrentExecutions"] == 100


@pytest.mark.parametrize(
    ("op", "request_", "code", "message"),
    [
        ("PutProvisionedConcurrencyConfig", {"Qualifier": "$LATEST", "ProvisionedConcurrentExecutions": 1}, "InvalidParameterValueException", "Provisioned Concurrency Configs cannot be applied to unpublished function versions."),
        ("PutProvisionedConcurrencyConfig", {"Qualifier": "1", "ProvisionedConcurrentExecutions": 0}, "ValidationException", "1 validation error detected: Value '0' at 'provisionedConcurrentExecutions' failed to satisfy constraint: Member must have value greater than or equal to 1"),
        ("PutProvisionedConcurrencyConfig", {"Qualifier": "10", "ProvisionedConcurrentExecutions": 1}, "ResourceNotFoundException", f"Function not found: {ARN}:f:10"),
        ("PutProvisionedConcurrencyConfig", {"Qualifier": "noalias", "ProvisionedConcurrentExecutions": 1}, "ResourceNotFoundException", f"Cannot find alias arn: {ARN}:f:noalias"),
        ("PutProvisionedConcurrencyConfig", {"FunctionName": "nope", "Qualifier": "1", "ProvisionedConcurrentExecutions": 1}, "ResourceNotFoundException", f"Function not found: {ARN}:nope:1"),
        ("PutProvisionedConcurrencyConfig", {"FunctionName": "nope", "Qualifier": "noalias", "ProvisionedConcurrentExecutions": 1}, "ResourceNotFoundException", f"Cannot find alias arn: {ARN}:nope:noalias"),
        ("PutProvisionedConcurrencyConfig", {"ProvisionedConcurrentExecutions": 1}, "ValidationException", "1 validation error detected: Value null at 'qualifier' failed to satisfy constraint: Member must not be null"),
        ("PutProvisionedConcurrencyConfig", {"FunctionName": "f:1", "Qualifier": "2", "ProvisionedConcurrentExecutions": 1}, "InvalidParameterValueException", "The derived qualifier from the function name does not match the specified qualifier."),
        ("GetProvisionedConcurrencyConfig", {"Qualifier": "$LATEST"}, "InvalidParameterValueException", "The function resource provided must be an alias or a published version."),
        ("GetProvisionedConcurrencyConfig", {"Qualifier": "10"}, "ResourceNotFoundException", f"Function not found: {ARN}:f:10"),
        ("GetProvisionedConcurrencyConfig", {"Qualifier": "noalias"}, "ResourceNotFoundException", f"Cannot find alias arn: {ARN}:f:noalias"),
        ("GetProvisionedConcurrencyConfig", {"FunctionName": "nope", "Qualifier": "noalias"}, "ResourceNotFoundException", f"Cannot find alias arn: {ARN}:nope:noalias"),
        ("GetProvisionedConcurrencyConfig", {"Qualifier": "1"}, "ProvisionedConcurrencyConfigNotFoundException", "No Provisioned Concurrency Config found for this function"),
        ("DeleteProvisionedConcurrencyConfig", {"Qualifier": "$LATEST"}, "InvalidParameterValueException", "The function resource provided must be an alias or a published version."),
        ("DeleteProvisionedConcurrencyConfig", {"Qualifier": "10"}, "ResourceNotFoundException", f"Function not found: {ARN}:f:10"),
        ("DeleteProvisionedConcurrencyConfig", {"Qualifier": "noalias"}, "ResourceNotFoundException", f"Cannot find alias arn: {ARN}:f:noalias"),
        ("DeleteProvisionedConcurrencyConfig", {"FunctionName": "nope", "Qualifier": "1"}, "ResourceNotFoundException", f"Function not found: {ARN}:nope:1"),
        ("ListProvisionedConcurrencyConfigs", {"FunctionName": "nope"}, "ResourceNotFoundException", f"Function not found: {ARN}:nope"),
    ],
)
def test_provisioned_errors(svc: Service, op: str, request_: dict, code: str, message: str) -> None:
    create(svc, "f", Publish=True)
    err = error_of(svc, op, {"FunctionName": "f", **request_})
    assert err.code == code
    assert err.message == message
    assert err.status == {"ValidationException": 400, "InvalidParameterValueException": 400}.get(code, 404)


def test_version_and_alias_pointing_to_it_conflict(svc: Service) -> None:
    # Aliases are written by the alias operations; a row stands in for one here.
    create(svc, "f", Publish=True)
    svc.conn.execute(
        "INSERT INTO aliases (function, name, function_version, revision_id) VALUES ('f', 'live', '1', 'r')"
    )
    put_provisioned(svc, "1", 1)
    with pytest.raises(LambdaError) as info:
        _check_alias_conflicts(svc.conn, "f", "live")
    assert (info.value.code, info.value.status) == ("ResourceConflictException", 409)
    assert info.value.message == (
        "Alias can't be used for Provisioned Concurrency configuration on an already Provisioned version"
    )
    svc.call("DeleteProvisionedConcurrencyConfig", {"FunctionName": "f", "Qualifier": "1"})
    _check_alias_conflicts(svc.conn, "f", "live")
    svc.conn.execute(
        "INSERT INTO provisioned_concurrency (function, qualifier, requested, status, last_modified) "
        "VALUES ('f', 'live', 1, 'READY', 'x')"
    )
    err = error_of(svc, "PutProvisionedConcurrencyConfig", {"FunctionName": "f", "Qualifier": "1", "ProvisionedConcurrentExecutions": 1})
    assert (err.code, err.message) == ("ResourceConflictException", "Version is pointed by a Provisioned Concurrency alias")


def test_delete_function_drops_its_configuration(svc: Service) -> None:
    create(svc, "f", Publish=True)
    create(svc, "g")
    put_reserved(svc, "f", 10)
    put_provisioned(svc, "1", 2)
    acquire_lease(svc, "f")
    kept = acquire_lease(svc, "g")
    svc.call("DeleteFunction", {"FunctionName": "f"})
    for table in ("provisioned_concurrency", "leases"):
        assert svc.conn.execute(f"SELECT function FROM {table}").fetchall() == ([] if table != "leases" else [("g",)])
    assert svc.call("GetAccountSettings")["AccountLimit"]["UnreservedConcurrentExecutions"] == 1000
    release_lease(svc, kept)
    # A new function of the same name starts clean.
    create(svc, "f", Publish=True)
    assert svc.call("GetFunctionConcurrency", {"FunctionName": "f"}) == {}
    assert svc.call("ListProvisionedConcurrencyConfigs", {"FunctionName": "f"}) == {"ProvisionedConcurrencyConfigs": []}


# ---------------------------------------------------------------------------------------------
# Leases


def test_reserved_zero_always_throttles(svc: Service) -> None:
    create(svc, "f")
    put_reserved(svc, "f", 0)
    with pytest.raises(LambdaError) as info:
        acquire_lease(svc, "f")
    err = info.value
    assert (err.code, err.status, err.message) == ("TooManyRequestsException", 429, "Rate Exceeded.")
    assert err.body() == {"Type": "User", "message": "Rate Exceeded.", "Reason": "ReservedFunctionConcurrentInvocationLimitExceeded"}


def test_leases_count_and_release(svc: Service) -> None:
    create(svc, "f")
    put_reserved(svc, "f", 2)
    first = acquire_lease(svc, "f")
    with lease(svc, "f"), pytest.raises(LambdaError):
        acquire_lease(svc, "f")
    third = acquire_lease(svc, "f")  # the block gave its lease back
    release_lease(svc, first)
    release_lease(svc, first)  # twice is harmless
    release_lease(svc, third)
    assert svc.conn.execute("SELECT COUNT(*) FROM leases").fetchone() == (0,)
    with pytest.raises(LambdaError) as info:
        acquire_lease(svc, "nope")
    assert info.value.code == "ResourceNotFoundException"


def test_unreserved_pool_throttles_functions_without_reservation(home: Path) -> None:
    write_config(home, {"concurrency": {"account_limit": 102}})
    service = Service(Settings.load(home))
    try:
        create(service, "free")
        create(service, "kept")
        put_reserved(service, "kept", 2)  # leaves exactly the minimum of 100 unreserved
        held = [acquire_lease(service, "free") for _ in range(100)]
        with pytest.raises(LambdaError) as info:
            acquire_lease(service, "free")
        assert info.value.extra == {"Reason": "ConcurrentInvocationLimitExceeded"}
        # A reservation is a guarantee: the full pool does not touch it.
        acquire_lease(service, "kept")
        release_lease(service, held[0])
        acquire_lease(service, "free")
    finally:
        service.close()


def test_a_recycled_pid_does_not_keep_a_lease(svc: Service) -> None:
    create(svc, "f")
    put_reserved(svc, "f", 1)
    # This very process, but recorded with another start time: the pid was reused.
    svc.conn.execute(
        "INSERT INTO leases (id, function, pid, host_boot, acquired) VALUES ('old', 'f', ?, 'boot:1', 0)",
        (os.getpid(),),
    )
    assert not _lease_alive(os.getpid(), "boot:1")
    assert _lease_alive(os.getpid(), process_token(os.getpid()))
    acquire_lease(svc, "f")
    assert svc.conn.execute("SELECT id FROM leases WHERE id = 'old'").fetchone() is None


HOLDER = textwrap.dedent(
    """
    import sys
    from lambdactl.errors import LambdaError
    from lambdactl.service import Service
    from lambdactl.service.concurrency import acquire_lease
    from lambdactl.settings import Settings

    svc = Service(Settings.load(sys.argv[1]))
    try:
        acquire_lease(svc, "f")
    except LambdaError as exc:
        print(exc.extra["Reason"], flush=True)
        sys.exit(0)
    print("HELD", flush=True)
    sys.stdin.read()  # hold the lease until the test closes stdin (or kills us)
    """
)


def start_holder(home: Path) -> subprocess.Popen[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    return subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(home)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, env=env
    )


def test_concurrent_processes_respect_reserved_concurrency(svc: Service, home: Path) -> None:
    create(svc, "f")
    put_reserved(svc, "f", 3)
    holders = [start_holder(home) for _ in range(6)]
    try:
        answers = [p.stdout.readline().strip() for p in holders]  # type: ignore[union-attr]
        assert sorted(answers) == ["HELD"] * 3 + ["ReservedFunctionConcurrentInvocationLimitExceeded"] * 3
        assert svc.conn.execute("SELECT COUNT(*) FROM leases").fetchone() == (3,)
        # Kill one holder without letting it release: its lease is reclaimed by the next caller.
        victim = next(p for p, a in zip(holders, answers, strict=True) if a == "HELD")
        victim.send_signal(signal.SIGKILL)
        victim.wait(timeout=10)
        taken = acquire_lease(svc, "f")
        with pytest.raises(LambdaError):
            acquire_lease(svc, "f")
        release_lease(svc, taken)
    finally:
        for p in holders:
            if p.poll() is None:
                p.stdin.close()  # type: ignore[union-attr]
                p.wait(timeout=10)
    # Holders that exited normally left stale rows; they do not count any more.
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            ids = [acquire_lease(svc, "f") for _ in range(3)]
            break
        except LambdaError:
            time.sleep(0.05)
    else:
        pytest.fail("leases of exited processes were not reclaimed")
    assert len(ids) == 3
