"""A cgroup per execution environment, where the cgroup tree is writable (usually as root).

Owns: finding writable `pids` and `memory` controllers (cgroup v2 unified, or v1 hierarchies),
creating one leaf per environment, joining it between fork and exec, listing its processes,
reading its memory, removing it. Used for what rlimits cannot do: cap processes+threads at 1024
even for root (the kernel exempts uid 0 from RLIMIT_NPROC), list every process of a tree (even
those that called setsid or double-forked) so none survives a kill, and count memory once per
page (summing per-process RSS counts copy-on-write pages of forked children many times).

MemorySize itself is enforced by the supervisor on the anonymous, mapped and shared memory
(memfds, shared memory segments) read from `memory.stat`, less the sandbox's tmpfs /tmp: a
cgroup limit also charges /tmp and page cache, which Lambda accounts separately. The limit set here is only a backstop above MemorySize + /tmp, so a function that
allocates faster than the supervisor samples is stopped by the kernel a bounded step later.
Between invocations a warm environment is frozen (v2 `cgroup.freeze`, v1 the `freezer`
controller), as Lambda freezes its environments: a background thread left running burns no CPU.
Must not know about sandboxes or runtimes.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

from lambdactl._record import dataclass, field

CGROUP_ROOT = Path("/sys/fs/cgroup")

# memory.stat keys whose sum is the function's resident memory (each page counted once).
V2_MEMORY_KEYS = (b"anon", b"file_mapped")
V1_MEMORY_KEYS = (b"total_rss", b"total_mapped_file")
# ... and the key of its tmpfs and shared memory pages (mapped or not: some are in both).
V2_SHMEM_KEY, V1_SHMEM_KEY = b"shmem", b"total_shmem"
# Kernel memory the group's processes make the kernel hold (socket buffers, pipes, page tables,
# slab): a function can pin gigabytes of it with little RSS, and on Lambda it is the VM's memory.
# v2: `kernel` (5.18+) covers stacks, page tables, percpu, vmalloc and slab; `sock` is apart.
V2_KERNEL_KEY = b"kernel"
V2_KERNEL_PARTS = (b"kernel_stack", b"pagetables", b"percpu", b"slab")
V2_SOCK_KEY = b"sock"
# v1: a counter of its own (0 where kmem accounting is off); socket buffers are charged to it.
V1_KMEM_FILE = "memory.kmem.usage_in_bytes"


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


def _bases() -> tuple[bool, dict[str, Path]]:
    """(is v2, controller -> directory under which we may create leaves)."""
    if (CGROUP_ROOT / "cgroup.controllers").exists():  # pure v2 hierarchy
        own = CGROUP_ROOT / _own_path(None).lstrip("/")
        ctl = own / "cgroup.subtree_control"
        found: dict[str, Path] = {}
        for c in ("pids", "memory"):
            try:
                if c not in ctl.read_text().split():
                    ctl.write_text(f"+{c}")
                found[c] = own
            except OSError:
                pass
        return True, found
    found = {}
    for c in ("pids", "memory", "freezer"):
        if (CGROUP_ROOT / c / "cgroup.procs").exists():
            found[c] = CGROUP_ROOT / c / _own_path(c).lstrip("/")
    return False, found


@dataclass
class Cgroup:
    v2: bool
    paths: dict[str, Path] = field(default_factory=dict)  # controller -> leaf directory
    freeze_path: Path | None = None  # v2 cgroup.freeze or v1 freezer.state, where there is one

    @property
    def has_pids(self) -> bool:
        return "pids" in self.paths

    @property
    def has_memory(self) -> bool:
        return "memory" in self.paths

    @property
    def has_freezer(self) -> bool:
        return self.freeze_path is not None

    def freeze(self) -> None:
        """Ask the kernel to freeze every process of the group (it completes asynchronously:
        a running thread stops at its next return to user mode)."""
        assert self.freeze_path is not None
        _write(self.freeze_path, b"1" if self.v2 else b"FROZEN")

    def thaw(self) -> None:
        assert self.freeze_path is not None
        _write(self.freeze_path, b"0" if self.v2 else b"THAWED")

    def frozen(self) -> bool:
        """Whether every process of the group is frozen now (not merely asked to be)."""
        path = self.freeze_path
        if path is None:
            return False
        try:
            if self.v2:
                return b"frozen 1" in (path.parent / "cgroup.events").read_bytes()
            return path.read_bytes().strip() == b"FROZEN"
        except OSError:
            return False

    def _dirs(self) -> list[Path]:
        return list(dict.fromkeys(self.paths.values()))

    def self_join_files(self) -> list[str]:
        """The files a freshly forked, single-threaded child writes `0` into to join.

        On v1 that is `tasks`, which moves one thread: for the calling thread the kernel skips
        the threadgroup lock, whose RCU grace period makes a `cgroup.procs` move cost 10-20 ms.
        Between fork and exec the child has one thread, so moving it moves the process. v2 has
        no such file outside threaded subtrees: `cgroup.procs` it is.
        """
        name = "cgroup.procs" if self.v2 else "tasks"
        return [str(d / name) for d in self._dirs()]

    @property
    def cheap_self_join(self) -> bool:
        """Whether a child joining itself between fork and exec avoids the RCU wait (v1)."""
        return not self.v2

    def add(self, pid: int) -> None:
        """Move process `pid` (0: the caller) in; raises OSError if it cannot be moved."""
        data = str(pid).encode()
        for d in self._dirs():
            fd = os.open(str(d / "cgroup.procs"), os.O_WRONLY)
            try:
                os.write(fd, data)
            finally:
                os.close(fd)

    def procs(self) -> list[int]:
        out: set[int] = set()
        for d in self._dirs():
            try:
                out.update(int(x) for x in (d / "cgroup.procs").read_bytes().split())
            except OSError:
                pass
        return sorted(out)

    def memory_bytes(self) -> int | None:
        """Anonymous + mapped file memory of the whole group, or None without a memory leaf."""
        stat = self.memory_stat()
        return None if stat is None else stat[0]

    def memory_stat(self, kernel_v1: bool = True) -> tuple[int, int] | None:
        """(anonymous + mapped file + kernel memory, tmpfs and shared memory) of the whole
        group, or None without a memory leaf. `kernel_v1=False` skips v1's kernel memory,
        which is a second file to read (v2 has it in memory.stat)."""
        d = self.paths.get("memory")
        if d is None:
            return None
        keys = V2_MEMORY_KEYS if self.v2 else V1_MEMORY_KEYS
        shmem_key = V2_SHMEM_KEY if self.v2 else V1_SHMEM_KEY
        total = shmem = parts = sock = 0
        kernel: int | None = None
        try:
            for line in (d / "memory.stat").read_bytes().splitlines():
                k, _, v = line.partition(b" ")
                if k in keys:
                    total += int(v)
                elif k == shmem_key:
                    shmem = int(v)
                elif not self.v2:
                    continue
                elif k == V2_KERNEL_KEY:
                    kernel = int(v)
                elif k == V2_SOCK_KEY:
                    sock = int(v)
                elif k in V2_KERNEL_PARTS:
                    parts += int(v)
        except (OSError, ValueError):
            return None
        if self.v2:
            kernel = (parts if kernel is None else kernel) + sock
        elif not kernel_v1:
            kernel = 0
        else:
            try:
                kernel = int((d / V1_KMEM_FILE).read_bytes())
            except (OSError, ValueError):
                kernel = 0  # a kernel without kmem accounting
        return total + kernel, shmem

    def oom_killed(self) -> bool:
        """Whether the kernel's OOM killer has killed a process of this group (the backstop)."""
        d = self.paths.get("memory")
        if d is None:
            return False
        name = "memory.events" if self.v2 else "memory.oom_control"
        try:
            for line in (d / name).read_bytes().splitlines():
                k, _, v = line.partition(b" ")
                if k == b"oom_kill" and int(v) > 0:
                    return True
        except (OSError, ValueError):
            pass
        return False

    def remove(self) -> None:
        if self.has_freezer:  # a frozen group's killed processes only die once thawed
            with contextlib.suppress(OSError):
                self.thaw()
        for d in self._dirs():
            # A killed process leaves the group a moment after it is reaped: retry briefly.
            for _ in range(100):
                try:
                    d.rmdir()
                    break
                except FileNotFoundError:
                    break
                except OSError:
                    time.sleep(0.002)
            with contextlib.suppress(OSError):  # the per-process parent, once its last leaf is gone
                d.parent.rmdir()


def _write(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


SWEEP_AFTER_S = 60.0


def _sweep_dead(base: Path) -> None:
    """Remove the empty cgroups of lambdactl processes that were killed before they could
    (a SIGKILLed CLI leaves its `lambdactl-PID/env-*` behind; a group still holding a process
    is busy and stays)."""
    try:
        names = [n for n in os.listdir(base) if n.startswith("lambdactl-")]
    except OSError:
        return
    now = time.time()
    for name in names:
        pid = name.removeprefix("lambdactl-")
        if not pid.isdigit() or os.path.exists(f"/proc/{pid}"):
            continue
        parent = base / name
        with contextlib.suppress(OSError):
            # Untouched for a minute at least (making a leaf touches its parent): a live
            # lambdactl in another pid namespace sharing this tree may have made one a moment
            # ago and not have moved into it yet.
            if now - parent.stat().st_mtime < SWEEP_AFTER_S:
                continue
            for leaf in os.listdir(parent):
                if (parent / leaf).is_dir():
                    with contextlib.suppress(OSError):
                        (parent / leaf).rmdir()
            parent.rmdir()


def create_cgroup(name: str, max_pids: int, memory_limit_bytes: int | None = None
                  ) -> Cgroup | None:
    """A fresh cgroup (pids limited to `max_pids`, memory accounted and capped at
    `memory_limit_bytes`), or None where the tree is not writable.
    LAMBDACTL_NO_CGROUP=1 disables it (to test the rlimit/sampling paths)."""
    if os.environ.get("LAMBDACTL_NO_CGROUP") == "1":
        return None
    v2, bases = _bases()
    cg = Cgroup(v2)
    for ctrl, base in bases.items():
        mine = base / f"lambdactl-{os.getpid()}"
        if not mine.exists():  # this process's first environment: once per process
            _sweep_dead(base)
        path = mine / name
        try:
            path.mkdir(parents=True, exist_ok=True)
            if ctrl == "pids":
                (path / "pids.max").write_text(str(max_pids))
            elif ctrl == "memory" and memory_limit_bytes is not None:
                limit_file = "memory.max" if v2 else "memory.limit_in_bytes"
                (path / limit_file).write_text(str(memory_limit_bytes))
            os.close(os.open(str(path / "cgroup.procs"), os.O_WRONLY))
        except OSError:
            with contextlib.suppress(OSError):
                path.rmdir()
            continue
        cg.paths[ctrl] = path
    if v2 and cg.paths:  # cgroup.freeze: kernels from 5.2 (before, the tree is stopped by signals)
        leaf = next(iter(cg.paths.values()))
        cg.freeze_path = leaf / "cgroup.freeze" if (leaf / "cgroup.freeze").exists() else None
    elif "freezer" in cg.paths:
        cg.freeze_path = cg.paths["freezer"] / "freezer.state"
    return cg if cg.paths else None


def available() -> dict[str, bool]:
    """Which controllers environments get here (for `lambdactl doctor`)."""
    cg = create_cgroup("probe", 1)
    if cg is None:
        return {"pids": False, "memory": False, "freezer": False}
    freezer = cg.has_freezer
    cg.remove()
    return {"pids": cg.has_pids, "memory": cg.has_memory, "freezer": freezer}
