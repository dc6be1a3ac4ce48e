"""Hostile functions are contained, leave no process behind, and the next environment works.

Every test here runs through `make_env`, whose teardown fails if any process carrying the
environment's Runtime API address survives. Each test also starts a fresh environment on the same
code and checks it serves a normal request.
"""

from __future__ import annotations

import json
import os
import re
import resource
import time

import pytest

from lambdactl.runtime.sandbox import SandboxMode

HOSTILE_APP = r'''
import errno, json, os, signal, subprocess, sys, time

def ok(event, context):
    return "fine"

def loop(event, context):
    while True:
        pass

def sigterm_children(event, context):
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    code = ("import os, signal, time\n"
            "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
            "os.setsid()\n"
            "if os.fork() == 0:\n"  # a double-forked grandchild in its own session
            "    while True: time.sleep(0.01)\n"
            "while True: pass\n")
    for _ in range(3):
        subprocess.Popen([sys.executable, "-c", code])
    time.sleep(0.3)
    while True:
        pass

def memory_hog(event, context):
    hog = []
    while True:
        hog.append(bytearray(8 * 1024 * 1024))

def fork_count(event, context):
    pids, failure = [], None
    for _ in range(event.get("n", 2000)):
        try:
            pid = os.fork()
        except OSError as e:
            failure = errno.errorcode[e.errno]
            break
        if pid == 0:
            time.sleep(30)
            os._exit(0)
        pids.append(pid)
    for p in pids:
        os.kill(p, signal.SIGKILL)
        os.waitpid(p, 0)
    return {"forked": len(pids), "failure": failure}

def fork_bomb(event, context):
    while True:
        try:
            os.fork()
        except OSError:
            pass

def fill_tmp(event, context):
    st = os.statvfs("/tmp") if os.environ.get("TMPDIR") is None else None
    path = os.path.join(os.environ.get("TMPDIR", "/tmp"), "big")
    written = 0
    chunk = b"x" * (1024 * 1024)
    try:
        with open(path, "wb") as f:
            while written < event["mb"] * 1024 * 1024:
                f.write(chunk)
                f.flush()
                written += len(chunk)
    except OSError as e:
        os.unlink(path)
        return {"error": errno.errorcode[e.errno], "written_mb": written // (1024 * 1024),
                "tmp_total_mb": st and st.f_blocks * st.f_frsize // (1024 * 1024)}
    return {"error": None, "written_mb": written // (1024 * 1024)}

def many_files(event, context):
    files = []
    try:
        for _ in range(5000):
            files.append(open("/dev/null"))
    except OSError as e:
        return {"opened": len(files), "error": errno.errorcode[e.errno]}
    return {"opened": len(files), "error": None}

def flood(event, context):
    line = (b"y" * 1023) + b"\n"
    block = line * 1024
    for _ in range(event["mb"]):
        sys.stdout.buffer.write(block)
    sys.stdout.flush()
    return "flooded"

def exit_mid_invoke(event, context):
    print("about to exit")
    os._exit(3)

def snoop(event, context):
    seen = {}
    for p in event["paths"]:
        try:
            seen[p] = sorted(os.listdir(p)) if os.path.isdir(p) else len(open(p, "rb").read())
        except OSError as e:
            seen[p] = errno.errorcode[e.errno]
    return seen

def sysctl_write(event, context):
    out = {}
    for p in ("/proc/sys/kernel/core_pattern", "/proc/sys/net/ipv4/ip_forward"):
        try:
            fd = os.open(p, os.O_WRONLY)  # opened only: never written, whatever happens
            os.close(fd)
            out[p] = "OPENED FOR WRITE"
        except OSError as e:
            out[p] = errno.errorcode[e.errno]
    return out

def write_outside_tmp(event, context):
    out = {}
    for p in ("/dev/shm/x", "/var/x", "/opt/x", "/x", "/tmp/x"):
        try:
            with open(p, "w") as f:
                f.write("x")
            out[p] = "written"
        except OSError as e:
            out[p] = errno.errorcode[e.errno]
    with open("/dev/null", "w") as f:  # device nodes still work on the read-only /dev
        f.write("x")
    try:
        os.unshare(os.CLONE_NEWUSER)
        out["userns"] = "created"
    except OSError as e:
        out["userns"] = errno.errorcode[e.errno]
    return out

def renamed_hog(event, context):
    # A child naming itself like the sandbox's own machinery must still be counted.
    code = ("import ctypes, time\n"
            "ctypes.CDLL(None).prctl(15, b'bwrap', 0, 0, 0)\n"
            "hog = bytearray(300 * 1024 * 1024)\n"
            "for i in range(0, len(hog), 4096): hog[i] = 1\n"
            "time.sleep(30)\n")
    child = subprocess.Popen([sys.executable, "-c", code])
    child.wait()
    return "survived"

def denied_syscalls(event, context):
    import ctypes, platform
    libc = ctypes.CDLL(None, use_errno=True)
    libc.syscall.restype = ctypes.c_long
    nr = {"x86_64": {"keyctl": 250, "add_key": 248, "request_key": 249, "bpf": 321,
                     "unshare": 272, "perf_event_open": 298, "getppid": 110},
          "aarch64": {"keyctl": 219, "add_key": 217, "request_key": 218, "bpf": 280,
                      "unshare": 97, "perf_event_open": 241, "getppid": 173}}[platform.machine()]
    args = {"keyctl": (0, -4, 0),  # KEYCTL_GET_KEYRING_ID of the user keyring (root's, as root)
            "add_key": (b"user", b"lambdactl-test", b"x", 1, -2),  # to the process keyring
            "request_key": (b"user", b"lambdactl-test", None, 0),
            "bpf": (0, None, 0), "unshare": (0x10000000,),  # CLONE_NEWUSER
            "perf_event_open": (None, 0, -1, -1, 0), "getppid": ()}
    out = {}
    for name, number in nr.items():
        ctypes.set_errno(0)
        r = libc.syscall(number, *args[name])
        out[name] = errno.errorcode.get(ctypes.get_errno(), "?") if r == -1 else "allowed"
    out["thread"] = []  # threads and processes still start (clone3 falls back to clone)
    import threading
    t = threading.Thread(target=lambda: out["thread"].append("ran"))
    t.start(); t.join()
    out["child"] = subprocess.run([sys.executable, "-c", "print(6 * 7)"],
                                  capture_output=True, text=True).stdout.strip()
    return out

def writable_places(event, context):
    candidates = ["/", "/etc", "/etc/ssl", "/etc/ssl/private", "/etc/ssl/certs", "/dev",
                  "/dev/shm", "/dev/pts", "/dev/mqueue", "/var", "/var/task", "/var/runtime",
                  "/var/lang", "/opt", "/run", "/home", "/root", "/usr", "/usr/local", "/bin",
                  "/lib", "/sys", "/sys/fs/cgroup", "/proc", "/proc/self", "/proc/sys",
                  "/proc/self/fd", "/tmp"]
    mounts = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            mounts.append(parts[4].replace("\\040", " "))
            if "rw" in parts[5].split(","):
                candidates.append(parts[4])
    written = []
    for d in sorted(set(candidates)):
        path = os.path.join(d, "lambdactl-write-probe")
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except OSError:
            try:  # a directory: can one be made there?
                os.mkdir(path)
            except OSError:
                continue
            os.rmdir(path)
            written.append(d)
            continue
        os.write(fd, b"x")
        os.close(fd)
        os.unlink(path)
        written.append(d)
    rw = []
    with open("/proc/self/mountinfo") as f:
        for line in f:
            parts = line.split()
            if "rw" in parts[5].split(",") and os.path.isdir(parts[4]):  # not device nodes
                rw.append((parts[4], line.split(" - ")[1].split()[0]))
    return {"written": written, "rw_mounts": rw, "mounts": mounts}

def socket_hog(event, context):
    # Data queued in socket pairs is kernel memory: no process's RSS shows it. Four processes,
    # each far from its descriptor limit with the default socket buffer sizes.
    import socket
    for _ in range(4):
        if os.fork() == 0:
            pairs, queued = [], 0
            while queued < event["mb"] * 1024 * 1024 // 4 and len(pairs) < 480:
                a, b = socket.socketpair()
                a.setblocking(False)
                pairs.append((a, b))
                try:
                    while True:
                        queued += a.send(b"s" * 65536)
                except BlockingIOError:
                    pass
            time.sleep(5)
            os._exit(0)
    time.sleep(3)  # a sample or two
    return "not killed"


def memfd_hog(event, context):
    import mmap
    chunk = b"m" * (1024 * 1024)
    if event["how"] == "after-tmp":  # /tmp has a size of its own: it is not memory
        with open(os.path.join(os.environ.get("TMPDIR", "/tmp"), "big"), "wb") as f:
            for _ in range(200):
                f.write(chunk)
        print("tmp written", flush=True)
    if event["how"] == "dev-shm":  # POSIX shared memory (the fallback's /dev/shm is the host's)
        path = "/dev/shm/lambdactl-test-%d" % os.getpid()
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)
        os.unlink(path)  # held open only: nothing is left behind when it is killed
    else:
        fd = os.memfd_create("hog")
    if event["how"] in ("write", "dev-shm", "after-tmp"):  # pages in the file, mapped by none
        for _ in range(event["mb"]):
            os.write(fd, chunk)
    else:  # ftruncate, then touch every page through a 1 MB window: the file keeps them
        size = event["mb"] * 1024 * 1024
        os.ftruncate(fd, size)
        for offset in range(0, size, len(chunk)):
            m = mmap.mmap(fd, len(chunk), offset=offset)
            for i in range(0, len(chunk), 4096):
                m[i] = 1
            m.close()
    time.sleep(1)  # a sample or two
    return "survived"

def write_code(event, context):
    out = {}
    for p in ("/var/task/new.py", "/var/task/app.py", os.environ["LAMBDA_TASK_ROOT"] + "/x"):
        try:
            with open(p, "a") as f:
                f.write("pwned")
            out[p] = "written"
        except OSError as e:
            out[p] = errno.errorcode[e.errno]
    return out
'''

FILES = {"app.py": HOSTILE_APP}
FALLBACK = SandboxMode("fallback", None, None, "forced by the test")


def assert_fresh_env_works(make_env, **kw):
    env = make_env(FILES, handler="app.ok", **kw)
    out = env.invoke(b"{}")
    assert out.status == "success" and out.payload == b'"fine"', out


@pytest.mark.parametrize("env_mode", [None, FALLBACK], ids=["detected", "fallback"])
def test_infinite_loop_times_out(make_env, env_mode):
    env = make_env(FILES, handler="app.loop", timeout_s=1, env_mode=env_mode)
    t0 = time.monotonic()
    out = env.invoke(b"{}", request_id="loop-1")
    assert time.monotonic() - t0 < 3
    assert out.status == "timeout" and out.function_error == "Unhandled"
    assert json.loads(out.payload) == {
        "errorType": "Sandbox.Timedout",
        "errorMessage": "RequestId: loop-1 Error: Task timed out after 1.00 seconds"}
    assert re.search(rb"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z loop-1 Task timed out after "
                     rb"1\.00 seconds$", out.log, re.M), out.log
    assert not out.environment_reusable and env.state.value == "Dead"
    assert "Status: timeout" in out.report_line(128)
    with pytest.raises(Exception, match="Dead"):
        env.invoke(b"{}")
    assert_fresh_env_works(make_env, env_mode=env_mode)


@pytest.mark.parametrize("env_mode", [None, FALLBACK], ids=["detected", "fallback"])
def test_sigterm_ignoring_children_are_all_killed(make_env, env_mode):
    env = make_env(FILES, handler="app.sigterm_children", timeout_s=1.5, env_mode=env_mode)
    out = env.invoke(b"{}")
    assert out.status == "timeout"
    assert_fresh_env_works(make_env, env_mode=env_mode)
    # make_env's teardown checks /proc: no child, grandchild or setsid escapee may survive.


def test_memory_hog_is_killed_and_measured(make_env):
    env = make_env(FILES, handler="app.memory_hog", memory_mb=128, timeout_s=20)
    out = env.invoke(b"{}", request_id="hog")
    assert out.status == "oom"
    assert out.error_type == "Runtime.ExitError"
    assert json.loads(out.payload) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": "RequestId: hog Error: Runtime exited with error: signal: killed"}
    assert out.max_memory_mb >= 128
    assert b"Runtime.ExitError" in out.log
    assert_fresh_env_works(make_env, memory_mb=128)


def test_process_limit_applies_inside(make_env):
    env = make_env(FILES, handler="app.fork_count", timeout_s=30,
                   memory_mb=2048)  # 1000 forked Pythons copy ~100 KB each
    out = env.invoke(json.dumps({"n": 2000}).encode())
    doc = json.loads(out.payload)
    if os.geteuid() == 0 and doc["failure"] is None:
        pytest.skip("running as root without a writable pids cgroup: no process limit here")
    assert doc["failure"] == "EAGAIN"
    assert 900 < doc["forked"] < 1024
    # the caller itself can still start processes
    assert os.system("true") == 0


def test_fork_bomb_is_contained(make_env):
    env = make_env(FILES, handler="app.fork_bomb", timeout_s=2)
    out = env.invoke(b"{}")
    assert out.status in ("timeout", "crash", "oom")
    assert os.system("true") == 0
    assert_fresh_env_works(make_env)


def test_filling_tmp_stops_at_its_size(make_env, mode):
    env = make_env(FILES, handler="app.fill_tmp", tmp_mb=16, timeout_s=20, memory_mb=512)
    out = env.invoke(json.dumps({"mb": 64}).encode())
    doc = json.loads(out.payload)
    if out.status == "oom":
        pytest.fail(f"/tmp pages were charged as memory: {out}")
    assert doc["error"] in ("ENOSPC", "EFBIG"), doc
    assert doc["written_mb"] <= 16
    if mode.name == "bubblewrap" and mode.tmpfs_size:
        assert doc["tmp_total_mb"] == 16
    assert_fresh_env_works(make_env)


def test_opening_5000_files_hits_the_limit_inside_only(make_env):
    env = make_env(FILES, handler="app.many_files")
    doc = json.loads(env.invoke(b"{}").payload)
    assert doc["error"] == "EMFILE"
    assert 1000 < doc["opened"] < 1024
    host_fds = [os.open(os.devnull, os.O_RDONLY) for _ in range(64)]  # the caller is unaffected
    for fd in host_fds:
        os.close(fd)
    assert env.invoke(b"{}").status == "success"  # and the environment keeps serving


def test_printing_200_mb_is_capped(make_env):
    env = make_env(FILES, handler="app.flood", timeout_s=60)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    out = env.invoke(json.dumps({"mb": 200}).encode())
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert out.status == "success" and out.payload == b'"flooded"'
    assert len(out.log) < 1024 * 1024
    m = re.search(rb"\[lambdactl: (\d+) bytes of output dropped\]", out.log)
    assert m and int(m.group(1)) > 190 * 1024 * 1024
    assert out.log.endswith(b"y\n")
    assert grown_mb < 64, f"caller grew {grown_mb:.0f} MB"
    assert env.invoke(json.dumps({"mb": 0}).encode()).log == b""  # nothing spills over


@pytest.mark.parametrize("env_mode", [None, FALLBACK], ids=["detected", "fallback"])
def test_os_exit_mid_invoke(make_env, env_mode):
    env = make_env(FILES, handler="app.exit_mid_invoke", env_mode=env_mode)
    out = env.invoke(b"{}", request_id="ex")
    assert out.status == "crash" and out.error_type == "Runtime.ExitError"
    assert json.loads(out.payload)["errorMessage"] == (
        "RequestId: ex Error: Runtime exited with error: exit status 3")
    assert out.log.startswith(b"about to exit\n")
    assert "Status: error\tError Type: Runtime.ExitError" in out.report_line(128)
    assert not out.environment_reusable
    assert_fresh_env_works(make_env, env_mode=env_mode)


def test_cannot_see_registry_other_code_or_home(make_env, bwrap_only, tmp_path, cache):
    home = tmp_path / "lambdactl-home"
    (home / "code").mkdir(parents=True)
    (home / "registry.db").write_bytes(b"SQLite format 3\0")
    other = make_env({"secret.py": "TOKEN = 'other function'\n", "app.py": "x=1\n"},
                     start=False)
    paths = [str(home), str(home / "registry.db"), str(other.spec.task_root), str(cache),
             os.path.expanduser("~"), "/root", "/etc/shadow", "/home"]
    env = make_env(FILES, handler="app.snoop")
    seen = json.loads(env.invoke(json.dumps({"paths": paths}).encode()).payload)
    for p in paths:
        assert seen[p] == "ENOENT", (p, seen[p])


def test_code_is_read_only(make_env, bwrap_only):
    env = make_env(FILES, handler="app.write_code")
    seen = json.loads(env.invoke(b"{}").payload)
    # creating is refused by the read-only mount; an existing 0444 file fails its mode check first
    assert seen["/var/task/new.py"] == "EROFS" and seen["/var/task/x"] == "EROFS", seen
    assert seen["/var/task/app.py"] in ("EACCES", "EROFS"), seen
    assert (env.spec.task_root / "app.py").read_text() == HOSTILE_APP


def test_fallback_private_tmp_and_cleanup(make_env):
    env = make_env(FILES, handler="app.fill_tmp", tmp_mb=8, env_mode=FALLBACK, memory_mb=512)
    doc = json.loads(env.invoke(json.dumps({"mb": 4}).encode()).payload)
    assert doc == {"error": None, "written_mb": 4}
    tmp = env.supervisor.launched.private_tmp
    assert tmp is not None and tmp.is_dir()
    env.shutdown()
    assert not tmp.exists()


def test_one_shot_allocation_beyond_memory_is_killed(make_env):
    # 1 GB in one expression: grows faster than a sample interval, so the kernel's cgroup
    # backstop (where available) or the next sample must stop it; either way it is an OOM.
    env = make_env({"app.py": "def handler(e, c):\n    b = b'x' * (1024 ** 3)\n    return len(b)\n"},
                   memory_mb=128, tmp_mb=16, timeout_s=20)
    out = env.invoke(b"{}")
    assert out.status == "oom", out
    assert json.loads(out.payload)["errorMessage"].endswith("signal: killed")


def test_sysctls_are_read_only(make_env, bwrap_only):
    env = make_env(FILES, handler="app.sysctl_write")
    seen = json.loads(env.invoke(b"{}").payload)
    assert set(seen.values()) <= {"EROFS", "EACCES"}, seen


def test_nothing_but_tmp_is_writable(make_env, bwrap_only):
    # Files on bwrap's own root or /dev would sit outside both the /tmp size and the memory
    # limit; Lambda has no /dev/shm and a read-only file system but for /tmp.
    env = make_env(FILES, handler="app.write_outside_tmp")
    seen = json.loads(env.invoke(b"{}").payload)
    for p in ("/dev/shm/x", "/var/x", "/opt/x", "/x"):
        assert seen[p] in ("EROFS", "ENOENT"), (p, seen)
    assert seen["/tmp/x"] == "written"
    if env.mode.disable_userns:
        assert seen["userns"] != "created", seen


def test_memory_of_a_process_renamed_bwrap_is_counted(make_env, monkeypatch):
    # Without a memory cgroup the sampler sums the tree itself and leaves out bwrap's own
    # processes: by what they run, not by a name any process can give itself.
    monkeypatch.setenv("LAMBDACTL_NO_CGROUP", "1")
    env = make_env(FILES, handler="app.renamed_hog", memory_mb=128, timeout_s=20)
    out = env.invoke(b"{}")
    assert out.status == "oom", out


@pytest.mark.parametrize("env_mode", [None, FALLBACK], ids=["detected", "fallback"])
def test_docker_denied_syscalls_fail_with_eperm(make_env, env_mode):
    # Run as root, the sandbox's uid 0 would otherwise read and add to root's own keyring.
    env = make_env(FILES, handler="app.denied_syscalls", env_mode=env_mode)
    seen = json.loads(env.invoke(b"{}").payload)
    for name in ("keyctl", "add_key", "request_key", "bpf", "unshare", "perf_event_open"):
        assert seen[name] == "EPERM", (name, seen)
    assert seen["getppid"] == "allowed" and seen["thread"] == ["ran"] and seen["child"] == "42"
    assert_fresh_env_works(make_env, env_mode=env_mode)


def test_only_tmp_is_writable_anywhere(make_env, bwrap_only):
    env = make_env(FILES, handler="app.writable_places")
    seen = json.loads(env.invoke(b"{}").payload)
    assert seen["written"] == ["/tmp"], seen
    assert "/etc/ssl/private" in seen["mounts"] or not os.path.isdir("/etc/ssl/private")
    # Mounted read-write: /tmp, and kernel interfaces in which nothing can be created (a new
    # procfs, and /dev/pts, whose nodes only the kernel makes).
    assert {m for m, _ in seen["rw_mounts"]} <= {"/tmp", "/proc", "/dev/pts"}, seen["rw_mounts"]


def test_socket_buffers_beyond_memory_size_are_killed(make_env):
    env = make_env(FILES, handler="app.socket_hog", memory_mb=128, timeout_s=20)
    cg = env.supervisor.launched.cgroup
    if cg is None or not cg.has_memory:
        pytest.skip("no writable memory cgroup here")
    # 300 MB: beyond MemorySize, well within the kernel's backstop (MemorySize + /tmp + slack)
    out = env.invoke(json.dumps({"mb": 300}).encode(), request_id="sock")
    assert out.status == "oom", out
    assert 128 <= out.max_memory_mb < 400, out
    assert_fresh_env_works(make_env)


@pytest.mark.parametrize("how", ["write", "ftruncate-touch", "dev-shm", "after-tmp"])
@pytest.mark.parametrize("accounting,env_mode", [("cgroup", None), ("sampler", None),
                                                 ("cgroup", FALLBACK), ("sampler", FALLBACK)],
                         ids=["cgroup", "sampler", "fallback-cgroup", "fallback-sampler"])
def test_a_memfd_beyond_memory_size_is_killed(make_env, monkeypatch, accounting, env_mode, how):
    if how == "dev-shm" and env_mode is not FALLBACK:
        pytest.skip("/dev/shm is read-only in the bubblewrap sandbox (test_only_tmp_is_writable)")
    if accounting == "sampler":
        monkeypatch.setenv("LAMBDACTL_NO_CGROUP", "1")
    env = make_env(FILES, handler="app.memfd_hog", memory_mb=128, timeout_s=20, env_mode=env_mode)
    if accounting == "cgroup" and (env.supervisor.launched.cgroup is None
                                   or not env.supervisor.launched.cgroup.has_memory):
        pytest.skip("no writable memory cgroup here")
    # 300 MB: beyond MemorySize, well within the kernel's backstop (MemorySize + /tmp + slack)
    out = env.invoke(json.dumps({"mb": 300, "how": how}).encode(), request_id="memfd")
    assert out.status == "oom", out
    assert json.loads(out.payload) == {
        "errorType": "Runtime.ExitError",
        "errorMessage": "RequestId: memfd Error: Runtime exited with error: signal: killed"}
    assert 128 <= out.max_memory_mb < 300
    if how == "after-tmp":
        assert out.log.startswith(b"tmp written\n"), out.log
    assert_fresh_env_works(make_env, env_mode=env_mode)
