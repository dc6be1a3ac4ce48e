"""The system call filter, installed on a forked child of the test: its argument rules."""

from __future__ import annotations

import ctypes
import errno
import json
import os
import platform

import pytest

from lambdactl.runtime import seccomp

NUMBERS = {  # the calls tried below, per architecture
    "x86_64": {"keyctl": 250, "clone": 56, "clone3": 435, "personality": 135, "socket": 41,
               "getpid": 39},
    "aarch64": {"keyctl": 219, "clone": 220, "clone3": 435, "personality": 92, "socket": 198,
                "getpid": 172},
}
CALLS = {
    "keyctl": ("keyctl", (0, -4, 0)),
    "clone with CLONE_NEWUSER": ("clone", (0x10000000 | 17, 0, 0, 0, 0)),
    "clone3": ("clone3", (0, 0)),
    "personality query": ("personality", (0xFFFFFFFF,)),
    "personality READ_IMPLIES_EXEC": ("personality", (0x0400000,)),
    "socket AF_ALG": ("socket", (38, 5, 0)),
    "socket AF_VSOCK": ("socket", (40, 1, 0)),
    "socket AF_INET": ("socket", (2, 1, 0)),
    "getpid": ("getpid", ()),
}


def under_filter() -> dict[str, str]:
    """Each call's outcome in a forked child that installed the filter."""
    numbers = NUMBERS[platform.machine()]
    install = seccomp.installer()
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # pragma: no cover - the child
        try:
            os.close(r)
            install()
            libc = ctypes.CDLL(None, use_errno=True)
            libc.syscall.restype = ctypes.c_long
            out = {}
            for label, (name, args) in CALLS.items():
                ctypes.set_errno(0)
                res = libc.syscall(ctypes.c_long(numbers[name]), *[ctypes.c_long(a) for a in args])
                out[label] = errno.errorcode.get(ctypes.get_errno(), "?") if res == -1 else "allowed"
                if res == 0 and name == "clone":  # the child of an allowed clone: gone at once
                    os._exit(0)
            os.write(w, json.dumps(out).encode())
        finally:
            os._exit(0)
    os.close(w)
    with os.fdopen(r) as f:
        data = f.read()
    os.waitpid(pid, 0)
    return json.loads(data)


def test_the_filter_denies_what_docker_denies_and_keeps_the_rest():
    if seccomp.unsupported_reason() is not None:
        pytest.skip(seccomp.unsupported_reason())
    seen = under_filter()
    assert seen == {
        "keyctl": "EPERM", "clone with CLONE_NEWUSER": "EPERM",
        "clone3": "ENOSYS",  # the C library falls back to clone, whose flags can be checked
        "personality query": "allowed", "personality READ_IMPLIES_EXEC": "EPERM",
        "socket AF_ALG": "EPERM", "socket AF_VSOCK": "EPERM", "socket AF_INET": "allowed",
        "getpid": "allowed"}


def test_programs_for_both_architectures():
    for arch, (audit_arch, _table) in seccomp.ARCHES.items():
        prog = seccomp.program(arch)
        assert len(prog) % 8 == 0 and len(prog) // 8 < 4096  # the kernel's BPF_MAXINSNS
        assert audit_arch.to_bytes(4, "little") in prog
        assert {"keyctl", "add_key", "request_key", "bpf", "unshare", "mount"} <= set(
            seccomp.denied_names(arch))
    with pytest.raises(seccomp.Unsupported, match="riscv64"):
        seccomp.program("riscv64")
