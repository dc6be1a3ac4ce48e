"""Fixtures for the execution engine: real zips, real sandboxes, and a check that nothing survives.

`make_env(files, runtime=..., handler=..., **spec)` zips `files`, extracts the zip through the
code cache (as the service will), starts an ExecutionEnvironment and, at teardown, shuts it down
and fails the test if any process carrying that environment's Runtime API address is still alive.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _engine_helpers import ACCOUNT, DEFAULT_PYTHON, Files, extract, runtime_or_skip, wait_gone

from lambdactl.runtime.discovery import RuntimeInfo
from lambdactl.runtime.environment import ExecutionEnvironment
from lambdactl.runtime.sandbox import SandboxMode, detect_mode
from lambdactl.runtime.spec import SandboxSpec


@pytest.fixture(scope="session")
def mode() -> SandboxMode:
    return detect_mode()


@pytest.fixture
def bwrap_only(mode: SandboxMode) -> None:
    if mode.name != "bubblewrap":
        pytest.skip(f"needs bubblewrap: {mode.reason}")


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    d = tmp_path / "cache"
    d.mkdir()
    return d


MakeEnv = Callable[..., ExecutionEnvironment]


@pytest.fixture
def make_env(cache: Path, mode: SandboxMode) -> Iterator[MakeEnv]:
    made: list[ExecutionEnvironment] = []

    def make(files: Files, *, runtime: str = DEFAULT_PYTHON, handler: str = "app.handler",
             name: str = "fn", start: bool = True, layers: Files | None = None,
             env_mode: SandboxMode | None = None, info: RuntimeInfo | None = None,
             init_timeout_s: float = 10, **spec_kw: object) -> ExecutionEnvironment:
        root = extract(cache, files)
        opt = extract(cache, layers) if layers else None
        info = info or runtime_or_skip(runtime)
        spec_kw.setdefault("cache_dir", cache / "sandbox")  # as the service sets it
        spec = SandboxSpec(task_root=root, opt_root=opt, runtime=runtime, handler=handler,
                           function_name=name, region="eu-west-1", account_id=ACCOUNT,
                           function_arn=f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{name}",
                           log_stream="2024/01/01/[$LATEST]0123456789abcdef0123456789abcdef",
                           **spec_kw)  # type: ignore[arg-type]
        env = ExecutionEnvironment(spec, info, env_mode or mode, init_timeout_s)
        made.append(env)
        if start:
            env.start()
        return env

    yield make
    leftovers = {}
    for env in made:
        if env.state.value == "Invoking":
            continue
        env.shutdown()
        cg = env.supervisor.launched.cgroup if env.supervisor is not None else None
        if cg is not None:
            assert not any(p.exists() for p in cg.paths.values()), f"cgroup left: {cg.paths}"
        if env.api is not None:
            left = wait_gone(f"AWS_LAMBDA_RUNTIME_API={env.api.address}")
            if left:
                leftovers[env.api.address] = left
    assert not leftovers, f"processes left behind: {leftovers}"


@pytest.fixture(autouse=True)
def _no_host_secrets(monkeypatch: pytest.MonkeyPatch) -> None:
    # A secret in the caller's environment that must never reach a function.
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "caller-secret-must-not-leak")
    monkeypatch.setenv("LAMBDACTL_TEST_HOST_ONLY", "1")
