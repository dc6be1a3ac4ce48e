"""What the execution engine can do on this machine, as data for `lambdactl doctor`.

Owns the wording of the engine's self-report: sandbox backend (and why not the stronger one),
how the process and memory limits are enforced, and which runtimes were found where. Returns a
plain dict; rendering belongs to the CLI.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from lambdactl.errors import LambdaError
from lambdactl.runtime import cgroups
from lambdactl.runtime.discovery import discover_all
from lambdactl.runtime.sandbox import detect_mode
from lambdactl.runtime.supervisor import SAMPLE_FAST_S


def report(overrides: Mapping[str, str] | None = None, cache_file: Path | None = None
           ) -> dict[str, Any]:
    mode = detect_mode()
    have_cgroup = cgroups.available()
    if have_cgroup["pids"]:
        procs = "pids cgroup (pids.max = 1024)"
    elif os.geteuid() != 0:
        procs = "RLIMIT_NPROC = 1024" + (" (per sandbox user namespace)"
                                         if mode.name == "bubblewrap" else " (shared with your user)")
    else:
        procs = ("not enforced: running as root without a writable cgroup tree, and the kernel "
                 "exempts uid 0 from RLIMIT_NPROC")
    sandbox: dict[str, Any] = {
        "mode": mode.name,
        "bubblewrap_version": mode.version,
        "isolation": ("user, pid, ipc and mount namespaces; /var/task, /opt, /var/runtime "
                      "read-only; private tmpfs /tmp; /etc a whitelist (no shadow, no "
                      "ssl/private)" if mode.name == "bubblewrap" else
                      "own session, cleaned environment and rlimits only: the function can read "
                      "what you can read, /tmp is a private directory exported as TMPDIR"),
        "tmp_limit": ("tmpfs size" if mode.tmpfs_size else "RLIMIT_FSIZE per file"),
        "process_limit": procs,
        "open_files_limit": "RLIMIT_NOFILE = 1024",
    }
    if mode.reason:
        sandbox["reason"] = mode.reason
    from lambdactl.runtime import seccomp

    no_filter = seccomp.unsupported_reason()
    sandbox["seccomp"] = (f"not applied: {no_filter}" if no_filter else
                          f"Docker's default profile's denials ({len(seccomp.denied_names())} "
                          "calls, e.g. keyctl, add_key, bpf, perf_event_open, mount, unshare) "
                          "fail with EPERM")
    sandbox["freezing"] = ("idle warm environments frozen by the cgroup freezer"
                           if have_cgroup.get("freezer") else
                           "idle warm environments stopped with SIGSTOP (no writable cgroup "
                           "freezer; a function catching SIGCONT sees the thaw)")
    if os.geteuid() == 0:
        keyring = " and root's keyring" if no_filter else ""  # else keyctl & co. are denied
        sandbox["warning"] = (
            "running as root: sandboxed processes are host uid 0 without capabilities (sysctls "
            f"are read-only, but abstract unix sockets trusting uid 0{keyring} are reachable)"
            if mode.name == "bubblewrap" else
            "running as root in the fallback mode: functions run as root")
        sandbox["advice"] = "run lambdactl as an unprivileged user"
    runtimes: dict[str, Any] = {}
    for rt, found in discover_all(overrides, cache_file).items():
        if isinstance(found, LambdaError):
            runtimes[rt] = {"found": False, "searched": found.extra.get("searched", []),
                            "message": found.message}
        else:
            runtimes[rt] = {"found": True, "kind": found.kind, "version": found.version,
                            "executable": str(found.executable) if found.executable else None,
                            "searched": found.searched}
    return {
        "sandbox": sandbox,
        "memory": {
            "method": ("sampling the cgroup's anonymous + mapped + shared memory (less /tmp)"
                       if have_cgroup["memory"] else
                       "sampling the process tree's resident memory (RSS, PSS when forked) "
                       "plus the memfds, shared memory and tmpfs files it holds"),
            "interval_ms": SAMPLE_FAST_S * 1000,
            "why": "a memory cgroup limit would also charge tmpfs /tmp and page cache to "
                   "MemorySize; RLIMIT_AS breaks V8 and Go",
        },
        "runtimes": runtimes,
    }
