"""Watching a launched sandbox: its output, its resident memory, its exit, and its death.

Owns: one pump thread per environment that reads stdout/stderr without ever letting a fast
printer block (and keeps only a bounded head and tail of it), samples the process tree's resident
memory (kill on excess, remember the peak), a waiter that decodes how the runtime ended
(`exit status N` / `signal: killed`, as Lambda words it) and killing the WHOLE tree, verified.
Must not know about the Runtime API, invocations or the registry.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import selectors
import signal
import socket
import stat
import struct
import threading
import time
from collections.abc import Callable

from lambdactl.runtime.sandbox import Launched

LOG_HEAD_BYTES = 256 * 1024
LOG_TAIL_BYTES = 256 * 1024
PIPE_SIZE_BYTES = 1024 * 1024
SAMPLE_FAST_S = 0.005  # while INIT or an invocation runs
SAMPLE_SLOW_S = 0.1  # idle between invocations
KILL_WAIT_S = 5.0
PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")

# Go's signal names: Lambda's messages come from a Go supervisor ("signal: killed").
SIGNAL_TEXT = {
    signal.SIGKILL: "killed", signal.SIGTERM: "terminated", signal.SIGSEGV: "segmentation fault",
    signal.SIGABRT: "aborted", signal.SIGINT: "interrupt", signal.SIGBUS: "bus error",
    signal.SIGFPE: "floating point exception", signal.SIGILL: "illegal instruction",
    signal.SIGHUP: "hangup", signal.SIGQUIT: "quit", signal.SIGPIPE: "broken pipe",
    signal.SIGUSR1: "user defined signal 1", signal.SIGUSR2: "user defined signal 2",
    signal.SIGTRAP: "trace/breakpoint trap", signal.SIGXCPU: "CPU time limit exceeded",
    signal.SIGXFSZ: "file size limit exceeded", signal.SIGALRM: "alarm clock",
}


def exit_text(returncode: int, *, bwrap: bool) -> str:
    """`exit status N` or `signal: NAME`, from a Popen returncode (bwrap reports 128+signal)."""
    sig = None
    if returncode < 0:
        sig = -returncode
    elif bwrap and 128 < returncode <= 128 + 64:
        sig = returncode - 128
    if sig is not None:
        try:
            name = SIGNAL_TEXT.get(signal.Signals(sig), f"signal {sig}")
        except ValueError:
            name = f"signal {sig}"
        return f"signal: {name}"
    return f"exit status {returncode}"


class LogBuffer:
    """The output of one invocation: its first and last bytes, and how many were dropped."""

    def __init__(self, head_bytes: int = LOG_HEAD_BYTES, tail_bytes: int = LOG_TAIL_BYTES) -> None:
        self.head = bytearray()
        self.tail = bytearray()
        self.head_bytes, self.tail_bytes = head_bytes, tail_bytes
        self.total = 0

    def write(self, data: bytes) -> None:
        self.total += len(data)
        room = self.head_bytes - len(self.head)
        if room > 0:
            self.head += data[:room]
            data = data[room:]
        if data:
            self.tail += data
            if len(self.tail) > 2 * self.tail_bytes:  # trim in batches, not per write
                del self.tail[: len(self.tail) - self.tail_bytes]

    def getvalue(self) -> bytes:
        tail = self.tail[-self.tail_bytes:] if self.tail_bytes else b""
        dropped = self.total - len(self.head) - len(tail)
        if dropped <= 0:
            return bytes(self.head + tail)
        note = f"\n[lambdactl: {dropped} bytes of output dropped]\n".encode()
        return bytes(self.head) + note + bytes(tail)


def _children(pid: int) -> list[int]:
    out: list[int] = []
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return out
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/children", "rb") as f:
                out.extend(int(x) for x in f.read().split())
        except OSError:
            pass
    return out


def descendants(root: int) -> list[int]:
    """root and every process below it (via /proc/PID/task/TID/children)."""
    seen = [root]
    i = 0
    while i < len(seen):
        seen.extend(c for c in _children(seen[i]) if c not in seen)
        i += 1
    return seen


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * PAGE_BYTES
    except (OSError, IndexError, ValueError):
        return 0


def _pss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return _rss_bytes(pid)


SOCK_DIAG_BY_FAMILY = 20
NETLINK_SOCK_DIAG = 4
NLMSG_ERROR = 2
TCP_LISTEN = 10
_LOOPBACK = b"\x7f\x00\x00\x01" + bytes(12)  # 127.0.0.1 as a 16-byte inet_diag address


def _tcp_socket_inode_netlink(local_port: int, remote_port: int) -> int | None:
    """The inode of the loopback TCP socket local_port -> remote_port, asked of the kernel.

    One sock_diag lookup (tens of microseconds) instead of reading /proc/net/tcp, which the
    kernel renders in full for every read (milliseconds, on the path of every cold start).
    Raises OSError where netlink is unavailable.
    """
    sockid = (struct.pack("!HH", local_port, remote_port) + _LOOPBACK + _LOOPBACK
              + struct.pack("=III", 0, 0xFFFFFFFF, 0xFFFFFFFF))  # any interface, no cookie
    req = struct.pack("=BBBBI", socket.AF_INET, socket.IPPROTO_TCP, 0, 0, 0xFFFFFFFF) + sockid
    msg = struct.pack("=IHHII", 16 + len(req), SOCK_DIAG_BY_FAMILY, 1, 1, 0) + req  # NLM_F_REQUEST
    with socket.socket(socket.AF_NETLINK, socket.SOCK_DGRAM, NETLINK_SOCK_DIAG) as nl:
        nl.send(msg)
        data = nl.recv(8192)
    if len(data) < 16:
        raise OSError("short sock_diag answer")
    _, kind = struct.unpack_from("=IH", data)
    if kind == NLMSG_ERROR:
        # ENOENT too: the kernel says it both for "no such socket" and for "no TCP handler"
        # (no inet_diag/tcp_diag module); the caller's /proc/net/tcp scan tells them apart.
        (err,) = struct.unpack_from("=i", data, 16)
        raise OSError(-err, "sock_diag lookup failed")
    if kind != SOCK_DIAG_BY_FAMILY or len(data) < 16 + 72:
        raise OSError("unexpected sock_diag answer")
    if data[16 + 1] == TCP_LISTEN:  # the lookup falls back to a listener: not a connection
        return None
    return int(struct.unpack_from("=I", data, 16 + 68)[0])  # inet_diag_msg.idiag_inode


def _tcp_socket_inode(local_port: int, remote_port: int) -> int | None:
    """The inode of the IPv4 loopback socket local_port -> remote_port."""
    try:
        return _tcp_socket_inode_netlink(local_port, remote_port)
    except OSError:
        pass
    local, remote = f":{local_port:04X}".encode(), f":{remote_port:04X}".encode()
    try:
        with open("/proc/net/tcp", "rb") as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[1].endswith(local) and parts[2].endswith(remote):
                    return int(parts[9])
    except (OSError, IndexError, ValueError, StopIteration):
        pass
    return None


def pids_with_marker(marker: str) -> list[int]:
    """Every process whose environment carries `marker` (the fallback's last-resort sweep)."""
    needle = marker.encode() + b"\0"
    out = []
    me = os.getpid()
    for name in os.listdir("/proc"):
        if not name.isdigit() or int(name) == me:
            continue
        try:
            with open(f"/proc/{name}/environ", "rb") as f:
                if needle in f.read():
                    out.append(int(name))
        except OSError:
            pass
    return out


class Supervisor:
    """Owns a launched sandbox until it is dead and every process of it is gone."""

    def __init__(self, launched: Launched, memory_limit_bytes: int,
                 on_exit: Callable[[], None] | None = None) -> None:
        self.launched = launched
        self.proc = launched.proc
        self.pid = launched.proc.pid
        self.bwrap = launched.mode.name == "bubblewrap"
        self.memory_limit_bytes = memory_limit_bytes
        self.on_exit = on_exit
        self.peak_rss_bytes = 0
        self.kill_reason: str | None = None  # 'oom' | 'timeout' | 'shutdown' | 'exit'
        self.returncode: int | None = None
        self.exited = threading.Event()
        self.interval = SAMPLE_FAST_S
        # How the tree is frozen between invocations: None (running), 'cgroup', or the pids we
        # stopped with SIGSTOP (to continue exactly those: not one that had stopped itself).
        self.frozen: str | list[int] | None = None
        self._tmp_fd: int | None = None  # the sandbox's /tmp, to read how full it is
        self._tmpfs_mounts: tuple[str, ...] | None = None
        self._shared_bytes = 0  # memfds & co. the last full sample found (no cgroup)
        self._tmp_walked, self._tmp_walked_at = 0, 0.0
        self._lock = threading.Lock()  # guards reads of the pipes and the current buffer
        self._buf = LogBuffer()
        self._fds: list[int] = []
        for stream in (self.proc.stdout, self.proc.stderr):
            assert stream is not None
            fd = stream.fileno()
            with contextlib.suppress(OSError):
                fcntl.fcntl(fd, fcntl.F_SETPIPE_SZ, PIPE_SIZE_BYTES)
            os.set_blocking(fd, False)
            self._fds.append(fd)
        self._pump = threading.Thread(target=self._pump_loop, daemon=True,
                                      name=f"sbx-pump-{self.pid}")
        self._waiter = threading.Thread(target=self._wait_loop, daemon=True,
                                        name=f"sbx-wait-{self.pid}")
        self._pump.start()
        self._waiter.start()

    # -- output -----------------------------------------------------------------------------

    def _read_available(self, fd: int) -> bool:
        """Read what the pipe holds now into the current buffer; False at EOF. Lock held."""
        while True:
            try:
                data = os.read(fd, PIPE_SIZE_BYTES)
            except BlockingIOError:
                return True
            except OSError:
                return False
            if not data:
                return False
            self._buf.write(data)

    def take_output(self) -> bytes:
        """Everything printed so far that no earlier call took (bounded), and start afresh.

        Output written before the runtime posted its response is already in the pipe when this
        runs, so draining here attributes it to the right invocation.
        """
        with self._lock:
            self._drain()
            buf, self._buf = self._buf, LogBuffer()
        return buf.getvalue()

    def peek_output(self) -> bytes:
        """What take_output() would return now, left in place."""
        with self._lock:
            self._drain()
            return self._buf.getvalue()

    def _drain(self) -> None:
        """Move what the pipes hold now into the current buffer. Lock held."""
        for fd in list(self._fds):
            self._read_available(fd)

    def _pump_loop(self) -> None:
        sel = selectors.DefaultSelector()
        for fd in self._fds:
            sel.register(fd, selectors.EVENT_READ)
        next_sample = 0.0
        try:
            while sel.get_map():
                for key, _ in sel.select(self.interval):
                    with self._lock:
                        if not self._read_available(key.fd):
                            sel.unregister(key.fd)
                            self._fds.remove(key.fd)
                now = time.monotonic()
                # A frozen tree's memory cannot change: nothing to sample.
                if now >= next_sample and not self.exited.is_set() and self.frozen is None:
                    self.sample()
                    next_sample = now + self.interval
        finally:
            sel.close()

    def busy(self) -> None:
        """INIT or an invocation is running: sample memory often."""
        self.interval = SAMPLE_FAST_S

    def idle(self) -> None:
        """Between invocations: sample rarely (a warm pool holds many idle environments)."""
        self.interval = SAMPLE_SLOW_S

    # -- freezing ---------------------------------------------------------------------------

    def freeze(self) -> None:
        """Stop every process of the sandbox until `thaw()`: with the cgroup freezer where
        there is one (nothing can tell), else SIGSTOP to each process of the tree (a stopped
        process cannot fork, so listing again until nothing new appears catches them all)."""
        cg = self.launched.cgroup
        if cg is not None and cg.has_freezer:
            cg.freeze()
            self.frozen = "cgroup"
            return
        stopped: list[int] = []
        seen: set[int] = {os.getpid()}
        while True:
            fresh = [p for p in (self.tree() if cg is not None else descendants(self.pid))
                     if p not in seen]
            if not fresh:
                break
            for p in fresh:
                seen.add(p)
                if _stopped(p):
                    continue  # it had stopped itself: it stays stopped after the thaw
                with contextlib.suppress(OSError):
                    os.kill(p, signal.SIGSTOP)
                    stopped.append(p)
        self.frozen = stopped

    def thaw(self) -> None:
        frozen, self.frozen = self.frozen, None
        if frozen == "cgroup":
            cg = self.launched.cgroup
            assert cg is not None
            cg.thaw()
        elif isinstance(frozen, list):
            for p in frozen:
                with contextlib.suppress(OSError):
                    os.kill(p, signal.SIGCONT)

    # -- memory -----------------------------------------------------------------------------

    def tree(self) -> list[int]:
        """Live pids of the sandbox (cgroup when we have one: it sees escaped processes too)."""
        if self.launched.cgroup is not None:
            return self.launched.cgroup.procs()
        return descendants(self.pid) if self.returncode is None else []

    def sample(self, scan_shared: bool = True) -> int:
        """Memory of the tree now; kills the tree when over the limit.

        Each page must count once: a memory cgroup's statistics do that; without one, a single
        process's RSS is exact and several processes are summed by PSS (RSS would count the
        copy-on-write pages of forked children once per child). Shared memory counts as well,
        mapped or not (memfds, SysV and POSIX shared memory, files on other tmpfs mounts), but
        not the sandbox's /tmp, which has its own size. Without a cgroup, finding the shared
        objects means reading every descriptor's link: `scan_shared=False` (the sample that
        ends each invocation, on the path of its response) reuses the last scan's answer, and
        leaves out cgroup v1's kernel memory (a file of its own).
        """
        cg = self.launched.cgroup
        # The end-of-invocation sample skips v1's separate kernel-memory file: the kill
        # decision rests on the pump's samples, which read it.
        counts = cg.memory_stat(kernel_v1=scan_shared) if cg is not None else None
        if counts is not None:
            assert cg is not None
            rss, shmem = counts
            unmapped = shmem - self._tmp_bytes() if shmem > SHMEM_SLACK_BYTES else 0
            if unmapped > SHMEM_SLACK_BYTES:
                # Mapped shared pages are in both the mapped count and shmem: once is enough.
                unmapped -= sum(_smaps_rollup(p, b"Pss_Shmem:") for p in cg.procs())
                rss += max(0, unmapped)
        else:
            pids = self.tree()
            bwrap = self.launched.mode.bwrap  # the program the sandbox was started with
            if self.bwrap and bwrap:
                # bwrap's own two processes (the one we started and its namespace child) are
                # our machinery, not the function's memory. Known by what they run and where
                # they sit: a function can give any process the name "bwrap".
                ours = {self.pid, *(c for c in _children(self.pid) if _runs(c, bwrap))}
                pids = [p for p in pids if p not in ours]
            rss = _rss_bytes(pids[0]) if len(pids) == 1 else sum(_pss_bytes(p) for p in pids)
            if scan_shared:
                self._shared_bytes = self._shared_objects_bytes(pids)
            shared = self._shared_bytes
            if shared:
                # What processes map of them is in their RSS/PSS already.
                rss += max(0, shared - sum(_smaps_rollup(p, b"Pss_Shmem:") for p in pids))
        if rss > self.peak_rss_bytes:
            self.peak_rss_bytes = rss
        if rss > self.memory_limit_bytes and self.kill_reason is None:
            self.kill("oom")
        return rss

    def _tmp_bytes(self) -> int:
        """What the sandbox's /tmp holds, where its pages are shared memory (a tmpfs)."""
        if self.bwrap:
            if self._tmp_fd is None:
                self._tmp_fd = _open_sandbox_tmp(self.tree(), self.pid)
                if self._tmp_fd is None:
                    return 0
            st = os.fstatvfs(self._tmp_fd)
            return (st.f_blocks - st.f_bfree) * st.f_frsize
        tmp = self.launched.private_tmp
        if tmp is None or not f"{tmp}/".startswith(self._fallback_tmpfs_mounts()):
            return 0
        now = time.monotonic()
        if now - self._tmp_walked_at > SAMPLE_SLOW_S:  # a walk: not at every fast sample
            self._tmp_walked, self._tmp_walked_at = _tree_bytes(str(tmp)), now
        return self._tmp_walked

    def _fallback_tmpfs_mounts(self) -> tuple[str, ...]:
        """The host's tmpfs mount points, each with a trailing slash (the fallback sees the
        host's: /dev/shm, maybe /tmp and /run), whose files are memory. None under bwrap: there
        the only writable tmpfs is the sandbox's /tmp."""
        if self._tmpfs_mounts is None:
            self._tmpfs_mounts = () if self.bwrap else _tmpfs_mount_points()
        return self._tmpfs_mounts

    def _shared_objects_bytes(self, pids: list[int]) -> int:
        """Shared memory held by the tree that no RSS shows unless mapped: memfds and files on
        tmpfs mounts other than the sandbox's /tmp held open, and (fallback: the host's IPC
        namespace is readable) SysV segments the tree made or last used."""
        seen: dict[tuple[int, int], int] = {}
        tmpfs = self._fallback_tmpfs_mounts()
        tmp_dir = "/tmp/" if self.bwrap else f"{self.launched.private_tmp}/"
        for pid in pids:
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except OSError:
                continue
            for fd in fds:
                path = f"/proc/{pid}/fd/{fd}"
                try:
                    link = os.readlink(path)
                except OSError:
                    continue
                if not link.startswith(("/memfd:", "/SYSV", "/dev/shm/")) and not (
                        tmpfs and link.startswith(tmpfs) and not link.startswith(tmp_dir)):
                    continue
                try:
                    st = os.stat(path)
                except OSError:
                    continue
                if stat.S_ISREG(st.st_mode):
                    seen[(st.st_dev, st.st_ino)] = st.st_blocks * 512
        total = sum(seen.values())
        if not self.bwrap:
            total += _sysv_shm_bytes(set(pids))
        return total

    # -- who is calling    # -- who is calling ---------------------------------------------------------------------

    def owns_connection(self, peer_port: int, server_port: int) -> bool:
        """Whether the loopback TCP connection from `peer_port` is held by a process of ours."""
        inode = _tcp_socket_inode(peer_port, server_port)
        if inode is None:
            return False
        target = f"socket:[{inode}]"
        for pid in self.tree():
            try:
                fds = os.listdir(f"/proc/{pid}/fd")
            except OSError:
                continue
            for fd in fds:
                try:
                    if os.readlink(f"/proc/{pid}/fd/{fd}") == target:
                        return True
                except OSError:
                    pass
        return False

    # -- exit and death ---------------------------------------------------------------------

    def _wait_loop(self) -> None:
        rc = self.proc.wait()
        cg = self.launched.cgroup
        if self.kill_reason is None and cg is not None and cg.oom_killed():
            self.kill_reason = "oom"  # the kernel's backstop fired before a sample did
        self.returncode = rc
        # The runtime is gone: nothing else of the tree may outlive it (Lambda resets it all).
        self._kill_tree()
        self.exited.set()
        if self.on_exit is not None:
            self.on_exit()

    def exit_text(self) -> str:
        if self.kill_reason in ("oom", "timeout", "shutdown"):
            return "signal: killed"
        assert self.returncode is not None
        return exit_text(self.returncode, bwrap=self.bwrap)

    def exit_reason(self) -> str:
        """Lambda's sentence for how the runtime ended, as in `Error: <this>`."""
        if self.kill_reason is None and self.returncode == 0:
            return "Runtime exited without providing a reason"
        return f"Runtime exited with error: {self.exit_text()}"

    def _kill_tree(self) -> None:
        # SIGKILLed processes are gone within a millisecond or two: poll fast at first, then
        # back off (about 1 s in all before giving up on a process that cannot die).
        pause = 0.0002
        for _ in range(220):
            pids = set(self.tree())
            if self.returncode is None:
                pids.update(descendants(self.pid))
            if not self.bwrap and self.launched.cgroup is None:
                with contextlib.suppress(OSError):
                    os.killpg(self.pid, signal.SIGKILL)
                if self.returncode is not None:
                    pids.update(pids_with_marker(self.launched.marker))
            pids.discard(os.getpid())
            if not pids:
                return
            for p in pids:
                with contextlib.suppress(OSError):
                    os.kill(p, signal.SIGKILL)
            if self.frozen == "cgroup":
                # Frozen processes die of SIGKILL only once thawed; stopped ones die at once.
                with contextlib.suppress(OSError, AssertionError):
                    self.thaw()
            time.sleep(pause)
            pause = min(pause * 2, 0.005)

    def kill(self, reason: str) -> None:
        """SIGKILL the whole tree and wait until it is gone (the root reaped, nothing left)."""
        with self._lock:
            if self.kill_reason is None:
                self.kill_reason = reason
        self._kill_tree()
        self.exited.wait(KILL_WAIT_S)

    def close(self) -> None:
        """Kill if still running, then release pipes, the cgroup and the private /tmp."""
        if not self.exited.is_set():
            self.kill("shutdown")
        self._pump.join(KILL_WAIT_S)
        for stream in (self.proc.stdout, self.proc.stderr):
            if stream is not None:
                with contextlib.suppress(OSError):
                    stream.close()
        if self._tmp_fd is not None:  # it holds the sandbox's /tmp mount: let it go
            with contextlib.suppress(OSError):
                os.close(self._tmp_fd)
            self._tmp_fd = None
        self.launched.cleanup_files()


SHMEM_SLACK_BYTES = 1024 * 1024  # shared memory below this is not worth reading smaps for


def _smaps_rollup(pid: int, key: bytes) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(key):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


def _open_sandbox_tmp(pids: list[int], outer: int) -> int | None:
    """A descriptor of the sandbox's own /tmp, seen through a process inside the sandbox (one
    whose /tmp is not the host's: bwrap's outer process, or one still setting up, has that)."""
    try:
        host = os.stat("/tmp").st_dev
    except OSError:
        host = -1
    for pid in pids:
        if pid == outer:
            continue
        try:
            fd = os.open(f"/proc/{pid}/root/tmp", os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
        except OSError:
            continue
        if os.fstat(fd).st_dev != host:
            return fd
        os.close(fd)
    return None


def _tmpfs_mount_points() -> tuple[str, ...]:
    out = []
    try:
        with open("/proc/self/mountinfo", "rb") as f:
            for line in f:
                fields = line.split()
                if fields[fields.index(b"-") + 1] == b"tmpfs":
                    point = os.fsdecode(fields[4]).replace("\\040", " ")
                    out.append(point.rstrip("/") + "/")
    except (OSError, ValueError, IndexError):
        pass
    return tuple(out)


def _tree_bytes(root: str) -> int:
    total = 0
    stack = [root]
    while stack:
        try:
            entries = list(os.scandir(stack.pop()))
        except OSError:
            continue
        for e in entries:
            try:
                if e.is_dir(follow_symlinks=False):
                    stack.append(e.path)
                total += e.stat(follow_symlinks=False).st_blocks * 512
            except OSError:
                pass
    return total


def _sysv_shm_bytes(pids: set[int]) -> int:
    """Resident bytes of the SysV shared memory segments made or last used by `pids`."""
    total = 0
    try:
        with open("/proc/sysvipc/shm", "rb") as f:
            header = f.readline().split()
            cpid, lpid, rss = header.index(b"cpid"), header.index(b"lpid"), header.index(b"rss")
            for line in f:
                fields = line.split()
                if int(fields[cpid]) in pids or int(fields[lpid]) in pids:
                    total += int(fields[rss])
    except (OSError, ValueError, IndexError):
        pass
    return total


def _stopped(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rpartition(b")")[2].split()[:1] in ([b"T"], [b"t"])
    except OSError:
        return False


def _runs(pid: int, executable: str) -> bool:
    """Whether process `pid` runs the program file `executable` (same file, not same name)."""
    try:
        mine = os.stat(executable)
    except OSError:
        return False
    try:
        theirs = os.stat(f"/proc/{pid}/exe")
    except OSError:
        # Not ours to inspect (a setuid bwrap's child): its name is all there is to go by.
        try:
            with open(f"/proc/{pid}/comm", "rb") as fh:
                return fh.read().strip() == os.path.basename(executable).encode()[:15]
        except OSError:
            return False
    return (mine.st_dev, mine.st_ino) == (theirs.st_dev, theirs.st_ino)
