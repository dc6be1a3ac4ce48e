"""What the service is given by whoever runs it, as `typing.Protocol`s.

Imported only for type checking (`typing` costs every CLI start a few milliseconds): the CLI
passes none of these and gets one-shot environments, direct registry leases and direct log
writes; `lambdactl serve` passes its warm pool, lease cache, batching log sink and keychain (a `sigv4.Keys`) to
every `Service` it makes.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from ..runtime.environment import ExecutionEnvironment, InvokeOutcome
from ..runtime.spec import SandboxSpec

EnvironmentKey = tuple[Any, ...]


class EnvironmentProvider(Protocol):
    """Where execution environments come from and go back to."""

    def acquire(self, key: EnvironmentKey, make_spec: Callable[[], SandboxSpec], runtime: Any) -> ExecutionEnvironment: ...

    def release(self, key: EnvironmentKey, env: ExecutionEnvironment, outcome: InvokeOutcome) -> None: ...


class WarmEnvironments(EnvironmentProvider, Protocol):
    """A provider that keeps environments between invocations, and provisioned ones on request."""

    def provision(self, key: EnvironmentKey, make_spec: Callable[[], SandboxSpec], runtime: Any, count: int) -> int:
        """Start environments until `count` are provisioned for `key`; how many are."""
        ...

    def unprovision(self, prefix: EnvironmentKey) -> None:
        """Shut down the provisioned environments whose key starts with `prefix`."""
        ...

    def retire(self, function: str, *, provisioned: bool = False) -> int: ...


class Leases(Protocol):
    """Concurrency leases, possibly kept between invocations of the same function."""

    def acquire(self, svc: Any, function: str) -> str: ...

    def release(self, svc: Any, function: str, lease_id: str) -> None: ...

    def forget(self, function: str) -> None:
        """Give a function's kept leases back now (its concurrency settings changed)."""
        ...


class LogSink(Protocol):
    """Takes one invocation's log and metrics record; writes it in batches."""

    def put(self, record: Any) -> None: ...
