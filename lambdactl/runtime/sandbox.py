"""Turning a `SandboxSpec` into a running, confined process: bubblewrap or the fallback.

Owns: detecting which backend works here (and why not), the bubblewrap command line (namespaces,
the read-only view of the system, /var/task, /opt, /var/runtime, a sized tmpfs /tmp), the
fallback's weaker confinement, rlimits and the per-environment cgroup where one is writable
(pids cap, memory accounting and backstop: see cgroups.py). Must not know about the
Runtime API protocol, invocations or logs: it starts argv with an environment and hands the
process to the `Supervisor`.

Strengths, as `lambdactl doctor` reports them:
- bubblewrap: user/pid/ipc/mount namespaces, uid 993 inside, nothing of the host visible but
  the system dirs and the interpreter's prefix, nothing writable but /tmp; killing bwrap kills
  the pid namespace.
- fallback (no usable bwrap): own session, cleaned environment, rlimits, cwd = task root, a
  private TMPDIR; the function can read whatever the caller can and /tmp is shared. Weaker.
Both install the system call filter (bwrap's --seccomp; the fallback between fork and exec).

RLIMIT_NPROC does not bind processes that the kernel counts as root (uid 0 outside the user
namespace: bwrap run by root maps the sandbox uid 993 to 0), so when we run as root the process
limit comes from a pids cgroup instead; as root without a writable cgroup tree there is no
process limit (`lambdactl doctor` says so). Run as an unprivileged user, RLIMIT_NPROC counts
per user namespace and limits the sandbox only.

Run as root, the sandbox's processes are host uid 0 without capabilities: /proc/sys and friends
are bound read-only (uid 0 could otherwise write sysctls), and the system call filter of
seccomp.py (both modes) denies the keyring calls, so root's user keyring is out of reach; what
the kernel grants by uid alone through the shared network namespace remains (abstract unix
sockets that trust peer uid 0). Running lambdactl as an ordinary user avoids it; doctor
reports it.
"""

from __future__ import annotations

import errno
import functools
import os
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from lambdactl import _fstree
from lambdactl._record import dataclass, replace
from lambdactl.runtime.cgroups import Cgroup, create_cgroup
from lambdactl.runtime.discovery import RuntimeInfo
from lambdactl.runtime.spec import (
    LAMBDA_LAYOUT,
    OPT_DIR,
    RUNTIME_DIR,
    TASK_DIR,
    Layout,
    SandboxSpec,
    build_environment,
)

BOOTSTRAPS_DIR = Path(__file__).resolve().parent / "bootstraps"
LANG_DIR = "/var/lang"
# The kernel's memory cap sits this far above MemorySize + /tmp: the supervisor's sampling
# enforces MemorySize; the cap only bounds what a very fast allocator gets between samples.
BACKSTOP_SLACK_MB = 64
ADOPT_TIMEOUT_S = 5.0
SANDBOX_UID = 993  # an unprivileged uid inside the namespace, as Lambda's sbx_user1051

# /etc entries a runtime needs (dynamic loader, name resolution, TLS roots, users): the rest of
# /etc (shadow, ssh keys, credentials of host services) stays invisible.
ETC_FILES = (
    "ld.so.cache", "ld.so.conf", "ld.so.conf.d", "nsswitch.conf", "hosts", "resolv.conf",
    "host.conf", "gai.conf", "ssl", "ca-certificates", "ca-certificates.conf", "pki",
    "crypto-policies", "passwd", "group", "alternatives", "mime.types", "protocols", "services",
    "localtime",
)
# Directories inside whitelisted /etc entries that hold host secrets: shown empty.
ETC_MASKED = ("/etc/ssl/private", "/etc/pki/tls/private")
PROC_READ_ONLY = ("/proc/sys", "/proc/sysrq-trigger", "/proc/irq", "/proc/bus")
SYSTEM_DIRS = ("bin", "sbin", "lib", "lib32", "lib64", "libx32")


def _which(name: str) -> str | None:
    """shutil.which for a bare name, without importing shutil (and with it bz2 and lzma) on
    every CLI invocation: the sandbox mode cache is keyed by bwrap's path."""
    for d in os.environ.get("PATH", os.defpath).split(os.pathsep):
        path = os.path.join(d or os.curdir, name)
        if os.path.isfile(path) and os.access(path, os.X_OK):
            return path
    return None


class InvalidEntrypoint(Exception):
    """A provided.* function without an executable bootstrap (Runtime.InvalidEntrypoint)."""


@dataclass(frozen=True)
class SandboxMode:
    name: str  # 'bubblewrap' | 'fallback'
    bwrap: str | None
    version: str | None
    reason: str  # why this mode (what failed, for the fallback)
    tmpfs_size: bool = False
    disable_userns: bool = False  # bwrap >= 0.8: no nested user namespaces inside


MODE_FIELDS = ("name", "bwrap", "version", "reason", "tmpfs_size", "disable_userns")


def _probe_bwrap(bwrap: str) -> tuple[bool, str, bool, bool]:
    """Can bwrap create our namespaces here? (ok, detail, supports tmpfs --size, supports
    --disable-userns)."""
    base = [bwrap, "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
            "--unshare-pid", "--unshare-ipc", "--die-with-parent", "--new-session",
            "--ro-bind", "/", "/", "--proc", "/proc", "--dev", "/dev"]
    attempts: tuple[tuple[list[str], bool, bool], ...] = ((["--disable-userns", "--size", "1048576"], True, True),
                (["--size", "1048576"], True, False), ([], False, False))
    failures: list[str] = []
    try:
        for extra, sized, no_userns in attempts:
            r = subprocess.run(base + extra + ["--tmpfs", "/tmp", "true"], capture_output=True,
                               text=True, timeout=10, stdin=subprocess.DEVNULL)
            if r.returncode == 0:
                return True, "", sized, no_userns
            failures.append(r.stderr.strip())
        return False, next((f for f in reversed(failures) if f), ""), False, False
    except (OSError, subprocess.SubprocessError) as e:
        return False, str(e), False, False


@functools.lru_cache(maxsize=1)
def detect_mode() -> SandboxMode:
    """Which backend this machine supports; probed once per process.

    LAMBDACTL_SANDBOX=fallback forces the weaker mode (tests, machines where bwrap misbehaves).
    """
    if os.environ.get("LAMBDACTL_SANDBOX") == "fallback":
        return SandboxMode("fallback", None, None, "forced by LAMBDACTL_SANDBOX=fallback")
    bwrap = _which("bwrap")
    if bwrap is None:
        return SandboxMode("fallback", None, None,
                           "bubblewrap (bwrap) is not installed; install the 'bubblewrap' package")
    try:
        version = subprocess.run([bwrap, "--version"], capture_output=True, text=True,
                                 timeout=10).stdout.strip().removeprefix("bubblewrap ")
    except (OSError, subprocess.SubprocessError):
        version = None
    ok, detail, sized, no_userns = _probe_bwrap(bwrap)
    if not ok:
        return SandboxMode("fallback", None, version,
                           f"bwrap cannot create user namespaces here: {detail}")
    return SandboxMode("bubblewrap", bwrap, version, "", sized, no_userns)


def detect_mode_cached(cache_file: Path | None) -> SandboxMode:
    """`detect_mode()`, remembered in `cache_file` across processes.

    The probe starts bwrap three times (~25 ms), which a one-shot CLI invocation would pay every
    time. The answer is kept per bwrap binary (path and mtime), kernel release, user and forced
    mode, so an upgrade or a different user probes again.
    """
    if cache_file is None:
        return detect_mode()
    import json

    bwrap = _which("bwrap")
    try:
        mtime = os.stat(bwrap).st_mtime_ns if bwrap else 0
    except OSError:
        mtime = 0
    key = f"{bwrap}|{mtime}|{os.uname().release}|{os.geteuid()}|{os.environ.get('LAMBDACTL_SANDBOX', '')}"
    try:
        entry = json.loads(cache_file.read_text()).get(key)
    except (OSError, ValueError, AttributeError):
        entry = None
    if isinstance(entry, list) and len(entry) == len(MODE_FIELDS):
        return SandboxMode(*entry)
    mode = detect_mode()
    try:
        cache_file.parent.mkdir(parents=True, exist_ok=True)
        from lambdactl.settings import write_private

        write_private(cache_file, json.dumps({key: [getattr(mode, name) for name in MODE_FIELDS]}).encode())
    except OSError:
        pass
    return mode


def interpreter_view(info: RuntimeInfo) -> tuple[str | None, list[str]]:
    """(the interpreter's path inside the sandbox, the bind arguments that make it visible).

    An interpreter installed outside /usr (pyenv, uv, nvm: usually under the user's home) is
    shown at /var/lang, where Lambda keeps its own, so the home directory stays invisible.
    Shared-library builds still load: Lambda's LD_LIBRARY_PATH starts with /var/lang/lib.
    """
    if info.executable is None:
        return None, []
    exe = info.executable
    if info.prefix is None:
        return str(exe), []
    try:
        rel = exe.relative_to(info.prefix)
    except ValueError:
        return str(exe), ["--ro-bind", str(info.prefix), str(info.prefix)]
    return f"{LANG_DIR}/{rel}", ["--ro-bind", str(info.prefix), LANG_DIR]


def bootstrap_argv(spec: SandboxSpec, info: RuntimeInfo, layout: Layout,
                   executable: str | None = None) -> list[str]:
    """The runtime process's argv, in the sandbox's own paths."""
    rt = layout.runtime_dir
    exe = executable or (str(info.executable) if info.executable else "")
    if info.kind == "python":
        # -I: no PYTHON* variables, no user site; -S: no site-packages or .pth hooks of the host;
        # -B: no bytecode written into the shared code tree (the fallback, run as root, could).
        return [exe, "-I", "-S", "-B", f"{rt}/python_bootstrap.py", layout.opt_dir]
    if info.kind == "node":
        return [exe, f"{rt}/node_bootstrap.js"]
    for host_dir, inside in ((spec.task_root, layout.task_dir),
                             (spec.opt_root, layout.opt_dir)):
        if host_dir is None:
            continue
        p = host_dir / "bootstrap"
        if p.is_file() and os.stat(p).st_mode & 0o111:
            return [f"{inside}/bootstrap"]
    raise InvalidEntrypoint(
        f"Couldn't find valid bootstrap(s): [{TASK_DIR}/bootstrap {OPT_DIR}/bootstrap]")


def _system_binds(cache_dir: Path | None = None) -> list[str]:
    args = ["--ro-bind", "/usr", "/usr"]
    for d in SYSTEM_DIRS:
        p = Path("/") / d
        if p.is_symlink():
            args += ["--symlink", os.readlink(p), str(p)]
        elif p.is_dir():
            args += ["--ro-bind", str(p), str(p)]
    view = etc_view(cache_dir) if cache_dir is not None else None
    if view is None:
        for name in ETC_FILES:
            args += ["--ro-bind-try", f"/etc/{name}", f"/etc/{name}"]
        dirs = [n for n in ETC_FILES if os.path.isdir(f"/etc/{n}")]
    else:
        snapshot, dirs = view
        args += ["--ro-bind", str(snapshot), "/etc"]
        for name in dirs:
            args += ["--ro-bind", f"/etc/{name}", f"/etc/{name}"]
    for secret in ETC_MASKED:  # inside a directory bound live: shown empty, and read-only
        if secret.split("/")[2] in dirs and os.path.isdir(secret):
            args += ["--tmpfs", secret, "--remount-ro", secret]
    return args


def etc_view(cache_dir: Path, etc_root: str = "/etc") -> tuple[Path, list[str]] | None:
    """The sandbox's /etc as (a snapshot directory, the host directories to bind into it).

    Each bind mount costs a bubblewrap start about 0.3 ms, and the /etc whitelist is ~20 of
    them. So the whitelisted regular files (and symlinks into /usr, which the sandbox sees)
    are copied into one snapshot named after their stat signature, bound once; directories are
    still bound live. The signature covers inode, size, mtime and ctime of every entry, so an
    edited or replaced host file gives a new snapshot at the next start. Files we cannot read
    are left out, as a failed `--ro-bind-try` left them out. None when the snapshot cannot be
    written (the caller binds entry by entry).

    Outdated snapshots are never removed here: a running sandbox (a warm or provisioned
    environment) may still have one mounted as its /etc, and removing it would empty that
    /etc under the function. Each is a few hundred kilobytes, made only when /etc changes;
    `cache/sandbox/etc-*` may be deleted while no sandbox runs.
    """
    import zlib  # not hashlib: its OpenSSL start-up costs a cold start ~2 ms

    entries: list[tuple[str, str, os.stat_result | None, str | None]] = []  # name, kind, stat, link
    sig = []
    for name in ETC_FILES:
        path = f"{etc_root}/{name}"
        try:
            st = os.stat(path)
        except OSError:
            continue
        link = None
        try:
            link = os.readlink(path)
        except OSError:
            pass
        if os.path.isdir(path):
            kind = "dir"
        elif link is not None and link.startswith("/usr/"):
            kind = "symlink"
        elif os.path.isfile(path) and st.st_mode & 0o004 and os.access(path, os.R_OK):
            kind = "file"
        else:
            continue
        entries.append((name, kind, st, link))
        sig.append(f"{name}|{kind}|{link}|{st.st_dev}|{st.st_ino}|{st.st_size}|{st.st_mtime_ns}|"
                   f"{st.st_ctime_ns}|{st.st_mode}\n")
    # Two independent 32-bit checksums: accidental collisions among a host's few snapshots are
    # out of reach, and only root can change /etc anyway.
    text = "".join(sig).encode()
    snapshot = cache_dir / f"etc-{zlib.crc32(text):08x}{zlib.adler32(text):08x}"
    dirs = [name for name, kind, _, _ in entries if kind == "dir"]
    if snapshot.is_dir():
        return snapshot, dirs
    try:
        _write_etc_snapshot(snapshot, entries, etc_root)
    except OSError:
        return None
    return snapshot, dirs


def _write_etc_snapshot(snapshot: Path,
                        entries: list[tuple[str, str, os.stat_result | None, str | None]],
                        etc_root: str) -> None:
    import shutil
    import tempfile

    snapshot.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=".etc-", dir=snapshot.parent))
    try:
        for name, kind, st, link in entries:
            target = tmp / name
            if kind == "dir":
                target.mkdir(mode=0o755)  # a mount point for the live host directory
            elif kind == "symlink":
                assert link is not None
                os.symlink(link, target)
            else:
                assert st is not None
                data = Path(f"{etc_root}/{name}").read_bytes()
                fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, st.st_mode & 0o644)
                try:
                    os.write(fd, data)
                finally:
                    os.close(fd)
                os.chmod(target, st.st_mode & 0o644)
        os.chmod(tmp, 0o755)
        try:
            os.rename(tmp, snapshot)
        except OSError:
            if not snapshot.is_dir():  # not a lost race with another process: a real failure
                raise
            shutil.rmtree(tmp, ignore_errors=True)
            return
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def bwrap_argv(mode: SandboxMode, spec: SandboxSpec, binds: list[str], inner: list[str],
               block_fd: int | None = None, seccomp_fd: int | None = None) -> list[str]:
    """The full bubblewrap command line for a spec (pure apart from looking at / for symlinks)."""
    assert mode.bwrap is not None
    args = [mode.bwrap, "--unshare-user", "--uid", str(SANDBOX_UID), "--gid", str(SANDBOX_UID),
            "--unshare-pid", "--unshare-ipc", "--die-with-parent", "--new-session"]
    if mode.disable_userns:
        args.append("--disable-userns")
    # No uts/cgroup namespaces: they hide nothing a function could misuse (the hostname, its own
    # cgroup path) and each costs 2-3 ms of every cold start.
    args += _system_binds(spec.cache_dir) + binds
    args += ["--proc", "/proc"]
    # A new procfs still lets uid 0 write sysctls (core_pattern is a host root escape): when we
    # run as root the sandbox uid maps to host uid 0, so cover what bwrap's setuid mode covers.
    for d in PROC_READ_ONLY:
        args += ["--ro-bind-try", d, d]
    args += ["--dev", "/dev"]
    if mode.tmpfs_size:
        args += ["--size", str(spec.tmp_mb * 1024 * 1024)]
    args += ["--tmpfs", "/tmp", "--dir", "/var",
             "--ro-bind", str(spec.task_root), TASK_DIR,
             "--ro-bind", str(BOOTSTRAPS_DIR), RUNTIME_DIR]
    if spec.opt_root is not None:
        args += ["--ro-bind", str(spec.opt_root), OPT_DIR]
    else:
        args += ["--dir", OPT_DIR]
    # Lambda's file system is read-only but for /tmp. bwrap's root and /dev are tmpfs mounts of
    # their own, so left writable they would hold files outside both the /tmp size and the
    # memory limit (/dev/shm included, which Lambda does not offer); device nodes still work.
    args += ["--remount-ro", "/", "--remount-ro", "/dev"]
    if block_fd is not None:
        args += ["--block-fd", str(block_fd)]
    if seccomp_fd is not None:
        args += ["--seccomp", str(seccomp_fd)]
    args += ["--chdir", TASK_DIR, "--"]
    return args + inner


def _rlimits(spec: SandboxSpec, fsize_bytes: int | None) -> list[tuple[int, int]]:
    out = [(resource.RLIMIT_NOFILE, spec.max_files), (resource.RLIMIT_NPROC, spec.max_processes),
           (resource.RLIMIT_CORE, 0)]
    if fsize_bytes is not None:
        out.append((resource.RLIMIT_FSIZE, fsize_bytes))
    return out


def _limits(limits: list[tuple[int, int]], join_files: list[str],
            install_filter: Callable[[], None] | None = None) -> None:
    """Runs in the child between fork and exec: only async-signal-safe-ish syscalls."""
    for res, value in limits:
        resource.setrlimit(res, (value, value))
    for path in join_files:
        fd = os.open(path, os.O_WRONLY)
        try:
            os.write(fd, b"0")
        finally:
            os.close(fd)
    if install_filter is not None:  # last: from here on the child runs under the filter
        install_filter()


def _seccomp_pipe() -> int | None:
    """A pipe's read end holding the system call filter, for bwrap's --seccomp (None where no
    filter can be applied: `lambdactl doctor` says why)."""
    from lambdactl.runtime import seccomp

    if seccomp.unsupported_reason() is not None:
        return None
    r, w = os.pipe()
    try:
        os.write(w, seccomp.program())  # a few hundred bytes: fits the pipe, never blocks
    except BaseException:
        os.close(r)
        raise
    finally:
        os.close(w)
    return r


def _adopt(proc: subprocess.Popen[bytes], cgroup: Cgroup, limits: list[tuple[int, int]]) -> None:
    """Put a bwrap still blocked on --block-fd, and the namespace child it made, under limits.

    For cgroup v2, where a process cannot join cheaply from between fork and exec: moving
    another process waits for an RCU grace period (10-20 ms); done here, it overlaps bwrap's
    own namespace setup instead of delaying its start. bwrap forks the function's process only
    after the block, so it inherits all of this.
    """
    from lambdactl.runtime.supervisor import descendants

    cgroup.add(proc.pid)
    for res, value in limits:
        resource.prlimit(proc.pid, res, (value, value))
    deadline = time.monotonic() + ADOPT_TIMEOUT_S
    while len(descendants(proc.pid)) < 2:  # wait for the namespace child to exist
        if proc.poll() is not None or time.monotonic() > deadline:
            return  # bwrap failed before blocking; the supervisor reports how it ended
        time.sleep(0.0002)
    for pid in descendants(proc.pid)[1:]:
        # forked before the first move or the prlimit above? bring it under both
        cgroup.add(pid)
        for res, value in limits:
            resource.prlimit(pid, res, (value, value))


@dataclass
class Launched:
    """A started sandbox: the root process and what is needed to clean it up."""

    proc: subprocess.Popen[bytes]
    mode: SandboxMode
    cgroup: Cgroup | None
    private_tmp: Path | None
    marker: str  # an environment entry every process of the tree inherits (for sweeps)

    def cleanup_files(self) -> None:
        if self.cgroup is not None:
            self.cgroup.remove()
        if self.private_tmp is not None:
            # The function wrote this tree: it may nest deeper than the recursion limit.
            _fstree.rmtree(self.private_tmp, ignore_errors=True)


def launch(spec: SandboxSpec, info: RuntimeInfo, runtime_api: str,
           mode: SandboxMode | None = None) -> Launched:
    """Start the runtime of `spec` confined by the best backend available.

    Raises InvalidEntrypoint for a provided.* function without a bootstrap.
    """
    mode = mode or detect_mode()
    private_tmp: Path | None = None
    binds: list[str] = []
    if mode.name == "bubblewrap":
        layout = LAMBDA_LAYOUT
        exe, binds = interpreter_view(info)
        inner = bootstrap_argv(spec, info, layout, exe)
        argv = []  # built below, once we know whether bwrap blocks on a fd
        cwd = "/"
        fsize = None if mode.tmpfs_size else spec.tmp_mb * 1024 * 1024
    else:
        layout = Layout(task_dir=str(spec.task_root),
                        opt_dir=str(spec.opt_root) if spec.opt_root else "/opt",
                        runtime_dir=str(BOOTSTRAPS_DIR))
        argv = bootstrap_argv(spec, info, layout)  # may raise InvalidEntrypoint: nothing made yet
        import tempfile

        private_tmp = Path(tempfile.mkdtemp(prefix="lambdactl-tmp-"))
        os.chmod(private_tmp, 0o700)
        layout = replace(layout, tmp_dir=str(private_tmp))
        cwd = str(spec.task_root)
        # No tmpfs to size: bound each file written instead (weaker: not the total).
        fsize = spec.tmp_mb * 1024 * 1024
    env = build_environment(spec, runtime_api, layout)
    cgroup = create_cgroup(f"env-{os.urandom(6).hex()}", max_pids=spec.max_processes,
                           memory_limit_bytes=(spec.memory_mb + spec.tmp_mb
                                               + BACKSTOP_SLACK_MB) * 1024 * 1024)
    marker = f"AWS_LAMBDA_RUNTIME_API={runtime_api}"
    limits = _rlimits(spec, fsize)
    # The child joins the cgroup itself before exec where that is cheap (v1: see
    # Cgroup.self_join_files); otherwise bwrap waits on a pipe while we move it in (_adopt).
    gate = (os.pipe() if mode.name == "bubblewrap" and cgroup is not None
            and not cgroup.cheap_self_join else None)
    join_files = cgroup.self_join_files() if cgroup is not None and not gate else []
    filter_fd: int | None = None
    install_filter: Callable[[], None] | None = None
    try:
        if mode.name == "bubblewrap":
            filter_fd = _seccomp_pipe()
            argv = bwrap_argv(mode, spec, binds, inner, gate[0] if gate else None, filter_fd)
        else:
            from lambdactl.runtime import seccomp

            if seccomp.unsupported_reason() is None:
                install_filter = seccomp.installer()
        passed = tuple(fd for fd in (gate[0] if gate else None, filter_fd) if fd is not None)
        proc = subprocess.Popen(
            argv, env=env, cwd=cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
            stderr=subprocess.PIPE, start_new_session=True, close_fds=True,
            pass_fds=passed,
            # no preexec_fn with a gate: subprocess can then vfork (~1.5 ms less per start)
            preexec_fn=None if gate else functools.partial(_limits, limits, join_files,
                                                           install_filter),
        )
    except BaseException:
        if filter_fd is not None:
            os.close(filter_fd)
        if gate:
            os.close(gate[0])
            os.close(gate[1])
        if cgroup is not None:
            cgroup.remove()
        if private_tmp is not None:
            _fstree.rmtree(private_tmp, ignore_errors=True)
        exc = sys.exc_info()[1]
        if (isinstance(exc, OSError) and mode.name != "bubblewrap" and info.kind not in ("python", "node")
                and exc.errno in (errno.ENOENT, errno.EACCES, errno.ENOEXEC, errno.ENOTDIR, errno.ELOOP)):
            # A bootstrap the kernel cannot run (missing interpreter, no #! line): Lambda's
            # Runtime.InvalidEntrypoint, in the words of its Go launcher.
            shown = argv[0].replace(str(spec.task_root), TASK_DIR, 1)
            if spec.opt_root is not None:
                shown = shown.replace(str(spec.opt_root), OPT_DIR, 1)
            raise InvalidEntrypoint(f"fork/exec {shown}: {(exc.strerror or str(exc)).lower()}") from None
        raise
    if filter_fd is not None:
        os.close(filter_fd)
    if gate:
        os.close(gate[0])
        assert cgroup is not None
        try:
            _adopt(proc, cgroup, limits)
        except BaseException:
            proc.kill()  # never let it run outside its limits
            proc.wait()
            os.close(gate[1])
            cgroup.remove()
            raise
        os.write(gate[1], b"go")
        os.close(gate[1])
    return Launched(proc, mode, cgroup, private_tmp, marker)
