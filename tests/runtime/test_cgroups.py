"""Per-environment cgroups: limits written, memory read, leaves removed."""

from __future__ import annotations

import pytest

from lambdactl.runtime.cgroups import create_cgroup


def test_cgroup_backstop_limit_is_set():
    cg = create_cgroup("backstop-test", 7, memory_limit_bytes=256 * 1024 * 1024)
    if cg is None or not cg.has_memory:
        pytest.skip("no writable memory cgroup here")
    try:
        d = cg.paths["memory"]
        limit = (d / ("memory.max" if cg.v2 else "memory.limit_in_bytes")).read_text().strip()
        assert int(limit) == 256 * 1024 * 1024
        assert (cg.paths["pids"] / "pids.max").read_text().strip() == "7"
        assert cg.memory_bytes() == 0 and not cg.oom_killed()
    finally:
        cg.remove()
    assert not any(p.exists() for p in cg.paths.values())
