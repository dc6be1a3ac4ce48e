"""Per-environment cgroups: limits written, memory read, leaves removed."""

from __future__ import annotations

from pathlib import Path

import pytest

from lambdactl.runtime.cgroups import Cgroup, create_cgroup


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


def test_groups_of_killed_processes_are_swept(tmp_path):
    import multiprocessing
    import os
    import time

    probe = create_cgroup("probe", 1)
    if probe is None:
        pytest.skip("no writable cgroup here")
    bases = [d.parent.parent for d in probe.paths.values()]
    probe.remove()
    # A pid no process can have (beyond pid_max), and one just made (another pid namespace's
    # lambdactl may not have moved in yet): only the old group of the impossible pid goes.
    dead = int(Path("/proc/sys/kernel/pid_max").read_text()) + 1
    leftovers = [base / f"lambdactl-{dead}" / "env-killed" for base in bases]
    recent = [base / f"lambdactl-{dead + 1}" / "env-new" for base in bases]
    for d in leftovers + recent:
        d.mkdir(parents=True)
    for d in leftovers:
        os.utime(d.parent, (time.time() - 3600, time.time() - 3600))
    alive = [base / f"lambdactl-{os.getppid()}" / "env-alive" for base in bases]
    for d in alive:
        d.mkdir(parents=True, exist_ok=True)
    try:
        # Sweeping happens when a process makes its first environment: do that in a new process.
        ctx = multiprocessing.get_context("fork")
        p = ctx.Process(target=lambda: create_cgroup("env-new", 8).remove())
        p.start()
        p.join()
        assert p.exitcode == 0
        assert not any(d.parent.exists() for d in leftovers)
        assert all(d.exists() for d in alive + recent)  # a live process's groups, a fresh one
    finally:
        for d in alive + leftovers + recent:
            for path in (d, d.parent):
                try:
                    path.rmdir()
                except OSError:
                    pass


@pytest.mark.parametrize("stat,kmem,expected", [
    # v2 with `kernel` (5.18+): it already holds slab and stacks; `sock` is apart.
    (b"anon 100\nfile_mapped 10\nkernel 50\nslab 30\nkernel_stack 5\nsock 7\nshmem 3\n", None, 167),
    # v2 before `kernel`: its parts.
    (b"anon 100\nfile_mapped 10\nslab 30\nkernel_stack 5\npagetables 4\npercpu 1\nsock 7\n", None, 157),
    # v1: the kmem counter, socket buffers included.
    (b"total_rss 100\ntotal_mapped_file 10\ntotal_shmem 3\n", b"70\n", 180),
    (b"total_rss 100\ntotal_mapped_file 10\n", None, 110),  # v1 without kmem accounting
])
def test_kernel_memory_counts(tmp_path, stat, kmem, expected):
    """The kill decision's figure includes kernel memory (v2 cannot be run here: its parsing is
    checked on the files as the kernel writes them)."""
    (tmp_path / "memory.stat").write_bytes(stat)
    if kmem is not None:
        (tmp_path / "memory.kmem.usage_in_bytes").write_bytes(kmem)
    cg = Cgroup(v2=stat.startswith(b"anon"), paths={"memory": tmp_path})
    assert cg.memory_stat()[0] == expected
