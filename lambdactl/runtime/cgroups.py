"""A pids cgroup per execution environment, where the cgroup tree is writable (usually as root).

Owns: finding a writable pids controller (cgroup v2 unified, or v1's pids hierarchy), creating
one leaf per environment with `pids.max`, listing and removing it. Used for two things RLIMIT
cannot do for root: cap processes+threads at 1024, and list every process of a tree (even those
that called setsid or double-forked) so none survives a kill. Memory is NOT enforced here: a
memory cgroup also charges tmpfs /tmp pages and page cache, which Lambda counts separately, so
MemorySize is enforced on resident memory by the supervisor.

Must not know about sandboxes or runtimes.
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path

CGROUP_ROOT = Path("/sys/fs/cgroup")


def _own_path(controller: str | None) -> str:
    """This process's cgroup path for a v1 controller, or the v2 path when controller is None."""
    try:
        lines = Path("/proc/self/cgroup").read_text().splitlines()
    except OSError:
        return "/"
    for line in lines:
        _, ctrls, path = line.split(":", 2)
        if (controller is None and ctrls == "") or (controller in ctrls.split(",")):
            return path
    return "/"


def _pids_base() -> Path | None:
    """The directory under which we may create pids-limited cgroups, or None."""
    v2 = CGROUP_ROOT / "cgroup.controllers"
    if v2.exists():  # pure v2 hierarchy
        own = CGROUP_ROOT / _own_path(None).lstrip("/")
        try:
            if "pids" not in (own / "cgroup.subtree_control").read_text().split():
                (own / "cgroup.subtree_control").write_text("+pids")
        except OSError:
            return None
        return own
    v1 = CGROUP_ROOT / "pids"
    if (v1 / "pids.max").exists() or (v1 / "cgroup.procs").exists():
        return v1 / _own_path("pids").lstrip("/")
    return None


@dataclass
class Cgroup:
    path: Path

    def join_self(self) -> None:
        """Move the calling process in (called between fork and exec: raw syscalls only)."""
        fd = os.open(str(self.path / "cgroup.procs"), os.O_WRONLY)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)

    def procs(self) -> list[int]:
        try:
            return [int(x) for x in (self.path / "cgroup.procs").read_text().split()]
        except OSError:
            return []

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            self.path.rmdir()
        with contextlib.suppress(OSError):  # the per-process parent, once its last leaf is gone
            self.path.parent.rmdir()


def create_cgroup(name: str, max_pids: int) -> Cgroup | None:
    """A fresh pids cgroup limited to `max_pids`, or None where the tree is not writable."""
    if os.environ.get("LAMBDACTL_NO_CGROUP") == "1":
        return None
    base = _pids_base()
    if base is None:
        return None
    path = base / f"lambdactl-{os.getpid()}" / name
    try:
        path.mkdir(parents=True)
        (path / "pids.max").write_text(str(max_pids))
        fd = os.open(str(path / "cgroup.procs"), os.O_WRONLY)
        os.close(fd)
    except OSError:
        with contextlib.suppress(OSError):
            path.rmdir()
        return None
    return Cgroup(path)


def available() -> bool:
    """Whether environments get a pids cgroup here (for `lambdactl doctor`)."""
    cg = create_cgroup("probe", 1)
    if cg is None:
        return False
    cg.remove()
    return True
