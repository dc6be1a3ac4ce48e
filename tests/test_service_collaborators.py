"""What a caller lends `Service` is used by the service itself: provisioned environments and kept
leases follow the registry through `Service.call`, with no server in the picture."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

from lambdactl.service import Service
from lambdactl.settings import Settings

from .conftest import create


class RecordingPool:
    """A WarmEnvironments that starts nothing and says what it was asked."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, ...]] = []
        self.provisioned = threading.Event()

    def acquire(self, key: Any, make_spec: Any, runtime: Any) -> Any:
        raise AssertionError("no invocation in these tests")

    def release(self, key: Any, env: Any, outcome: Any) -> None:
        raise AssertionError("no invocation in these tests")

    def provision(self, key: Any, make_spec: Any, runtime: Any, count: int) -> int:
        self.calls.append(("provision", key[:2], count))
        self.provisioned.set()
        return count

    def unprovision(self, prefix: Any) -> None:
        self.calls.append(("unprovision", prefix))

    def retire(self, function: str, *, provisioned: bool = False) -> int:
        self.calls.append(("retire", function, provisioned))
        return 0


class RecordingLeases:
    def __init__(self) -> None:
        self.forgotten: list[str] = []

    def acquire(self, svc: Any, function: str) -> str:
        raise AssertionError("no invocation in these tests")

    def release(self, svc: Any, function: str, lease_id: str) -> None:
        raise AssertionError("no invocation in these tests")

    def forget(self, function: str) -> None:
        self.forgotten.append(function)


def lent(home: Path) -> tuple[Service, RecordingPool, RecordingLeases]:
    pool, leases = RecordingPool(), RecordingLeases()
    return Service(Settings.load(home), environments=pool, leases=leases), pool, leases


def test_provisioning_follows_the_config(home: Path) -> None:
    svc, pool, _ = lent(home)
    create(svc)
    svc.call("PublishVersion", {"FunctionName": "f"})
    svc.call("PutProvisionedConcurrencyConfig", {"FunctionName": "f", "Qualifier": "1", "ProvisionedConcurrentExecutions": 2})
    assert pool.provisioned.wait(60)  # started behind the answer, as on AWS
    assert ("unprovision", ("f",)) in pool.calls and ("provision", ("f", "1"), 2) in pool.calls
    deadline = time.monotonic() + 60
    while svc.call("GetProvisionedConcurrencyConfig", {"FunctionName": "f", "Qualifier": "1"})["Status"] != "READY":
        assert time.monotonic() < deadline
        time.sleep(0.05)
    svc.close()


def test_serve_start_provisions_through_the_door(home: Path) -> None:
    svc, pool, _ = lent(home)
    create(svc)
    svc.call("PublishVersion", {"FunctionName": "f"})
    plain = Service(svc.settings)  # the CLI's service: configs are stored, nothing is started
    plain.call("PutProvisionedConcurrencyConfig", {"FunctionName": "f", "Qualifier": "1", "ProvisionedConcurrentExecutions": 1})
    assert plain.call("lambdactl:Provision", {}) == {}
    assert pool.calls == []
    svc.call("lambdactl:Provision", {})
    assert pool.calls == [("provision", ("f", "1"), 1)]
    assert svc.call("GetProvisionedConcurrencyConfig", {"FunctionName": "f", "Qualifier": "1"})["Status"] == "READY"
    plain.close()
    svc.close()


def test_concurrency_changes_and_deletion_reach_leases_and_environments(home: Path) -> None:
    svc, pool, leases = lent(home)
    create(svc)
    svc.call("PutFunctionConcurrency", {"FunctionName": "f", "ReservedConcurrentExecutions": 3})
    svc.call("DeleteFunctionConcurrency", {"FunctionName": "f"})
    assert leases.forgotten == ["f", "f"]
    svc.call("DeleteFunction", {"FunctionName": "f"})
    assert leases.forgotten == ["f", "f", "f"]
    assert ("retire", "f", True) in pool.calls
    svc.close()
