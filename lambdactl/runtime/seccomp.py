"""The sandbox's system call filter: what Docker's default seccomp profile denies, as classic BPF.

Owns: the list of denied calls (those Docker's default profile refuses a container without
extra capabilities: keyrings, bpf, perf events, module loading, mounts, namespaces, kexec,
clock setting, swap, reboot, accounting, quotas, handle-based opens, NUMA policy, io_uring,
userfaultfd, ...), the argument rules Docker applies to `clone` (no namespace flags),
`personality` (only the usual values) and `socket` (no AF_ALG, AF_VSOCK), and assembling them
into a BPF program for one architecture. Needs no libseccomp: the program is a few hundred bytes
of `sock_filter`s built here, handed to bwrap (`--seccomp FD`) or installed by the fallback
between fork and exec. Must not know about sandboxes or runtimes.

A denied call fails with EPERM, as under Docker; `clone3` fails with ENOSYS so that the C
library falls back to `clone`, whose flags the filter can inspect. A call of another ABI
(x32 on x86-64, a foreign architecture) is refused with EPERM.
"""

from __future__ import annotations

import errno
import functools
import os
import struct

# Denied on every architecture we know, by name (Docker grants these only with capabilities a
# function never has, or not at all).
DENIED = (
    "_sysctl", "acct", "add_key", "afs_syscall", "bpf", "chroot", "clock_settime",
    "create_module", "delete_module", "fanotify_init", "finit_module", "fsconfig", "fsmount",
    "fsopen", "fspick", "get_kernel_syms", "get_mempolicy", "getpmsg", "init_module",
    "io_uring_enter", "io_uring_register", "io_uring_setup", "ioperm", "iopl", "kcmp",
    "kexec_file_load", "kexec_load", "keyctl", "lookup_dcookie", "mbind", "migrate_pages",
    "mount", "mount_setattr", "move_mount", "move_pages", "nfsservctl", "open_by_handle_at",
    "open_tree", "perf_event_open", "pidfd_getfd", "pivot_root", "process_madvise", "putpmsg",
    "query_module", "quotactl", "quotactl_fd", "reboot", "request_key", "security",
    "set_mempolicy", "set_mempolicy_home_node", "setdomainname", "sethostname", "setns",
    "settimeofday", "swapoff", "swapon", "sysfs", "syslog", "tuxcall", "umount2", "unshare",
    "uselib", "userfaultfd", "ustat", "vhangup", "vserver",
)

# System call numbers of the calls above (and of those with argument rules), per architecture;
# a name missing from an architecture's table does not exist there.
X86_64 = {
    "_sysctl": 156, "acct": 163, "add_key": 248, "afs_syscall": 183, "bpf": 321, "chroot": 161,
    "clock_settime": 227, "create_module": 174, "delete_module": 176, "fanotify_init": 300,
    "finit_module": 313, "fsconfig": 431, "fsmount": 432, "fsopen": 430, "fspick": 433,
    "get_kernel_syms": 177, "get_mempolicy": 239, "getpmsg": 181, "init_module": 175,
    "io_uring_enter": 426, "io_uring_register": 427, "io_uring_setup": 425, "ioperm": 173,
    "iopl": 172, "kcmp": 312, "kexec_file_load": 320, "kexec_load": 246, "keyctl": 250,
    "lookup_dcookie": 212, "mbind": 237, "migrate_pages": 256, "mount": 165,
    "mount_setattr": 442, "move_mount": 429, "move_pages": 279, "nfsservctl": 180,
    "open_by_handle_at": 304, "open_tree": 428, "perf_event_open": 298, "pidfd_getfd": 438,
    "pivot_root": 155, "process_madvise": 440, "putpmsg": 182, "query_module": 178,
    "quotactl": 179, "quotactl_fd": 443, "reboot": 169, "request_key": 249, "security": 185,
    "set_mempolicy": 238, "set_mempolicy_home_node": 450, "setdomainname": 171,
    "sethostname": 170, "setns": 308, "settimeofday": 164, "swapoff": 168, "swapon": 167,
    "sysfs": 139, "syslog": 103, "tuxcall": 184, "umount2": 166, "unshare": 272, "uselib": 134,
    "userfaultfd": 323, "ustat": 136, "vhangup": 153, "vserver": 236,
    "clone": 56, "clone3": 435, "personality": 135, "socket": 41,
}
AARCH64 = {  # the generic table (asm-generic/unistd.h)
    "acct": 89, "add_key": 217, "bpf": 280, "chroot": 51, "clock_settime": 112,
    "delete_module": 106, "fanotify_init": 262, "finit_module": 273, "fsconfig": 431,
    "fsmount": 432, "fsopen": 430, "fspick": 433, "get_mempolicy": 236, "init_module": 105,
    "io_uring_enter": 426, "io_uring_register": 427, "io_uring_setup": 425, "kcmp": 272,
    "kexec_file_load": 294, "kexec_load": 104, "keyctl": 219, "lookup_dcookie": 18,
    "mbind": 235, "migrate_pages": 238, "mount": 40, "mount_setattr": 442, "move_mount": 429,
    "move_pages": 239, "nfsservctl": 42, "open_by_handle_at": 265, "open_tree": 428,
    "perf_event_open": 241, "pidfd_getfd": 438, "pivot_root": 41, "process_madvise": 440,
    "quotactl": 60, "quotactl_fd": 443, "reboot": 142, "request_key": 218,
    "set_mempolicy": 237, "set_mempolicy_home_node": 450, "setdomainname": 162,
    "sethostname": 161, "setns": 268, "settimeofday": 170, "swapoff": 225, "swapon": 224,
    "syslog": 116, "umount2": 39, "unshare": 97, "userfaultfd": 282, "vhangup": 58,
    "clone": 220, "clone3": 435, "personality": 92, "socket": 198,
}

AUDIT_ARCH_X86_64 = 0xC000003E
AUDIT_ARCH_AARCH64 = 0xC00000B7
X32_SYSCALL_BIT = 0x40000000
ARCHES = {"x86_64": (AUDIT_ARCH_X86_64, X86_64), "aarch64": (AUDIT_ARCH_AARCH64, AARCH64)}

# Namespace flags of clone(2): CLONE_NEWNS | NEWCGROUP | NEWUTS | NEWIPC | NEWUSER | NEWPID | NEWNET.
CLONE_NAMESPACE_FLAGS = 0x7E020000
PERSONALITY_ALLOWED = (0x0, 0x8, 0x20000, 0x20008, 0xFFFFFFFF)
SOCKET_FAMILIES_DENIED = (38, 40)  # AF_ALG, AF_VSOCK

SECCOMP_RET_ALLOW = 0x7FFF0000
SECCOMP_RET_ERRNO = 0x00050000

# Classic BPF opcodes.
_LD_W_ABS = 0x20
_JEQ_K = 0x15
_JGE_K = 0x35
_JSET_K = 0x45
_RET_K = 0x06
_NR, _ARCH, _ARG0 = 0, 4, 16  # offsets in struct seccomp_data (arg0's low word, little endian)


class Unsupported(Exception):
    """No filter can be built or installed here (the reason is the message)."""


def machine() -> str:
    return os.uname().machine


@functools.lru_cache(maxsize=4)
def program(arch: str | None = None) -> bytes:
    """The filter for `arch` (default: this machine's) as packed `struct sock_filter`s."""
    arch = arch or machine()
    if arch not in ARCHES:
        raise Unsupported(f"no system call table for the {arch} architecture")
    audit_arch, table = ARCHES[arch]
    # (code, jt, jf, k): jumps name their target's label; code -1 places label k
    ops: list[tuple[int, int | str, int | str, int | str]] = []

    def emit(code: int, k: int | str, jt: int | str = 0, jf: int | str = 0) -> None:
        ops.append((code, jt, jf, k))

    emit(_LD_W_ABS, _ARCH)
    emit(_JEQ_K, audit_arch, 0, "deny")
    emit(_LD_W_ABS, _NR)
    if arch == "x86_64":
        emit(_JGE_K, X32_SYSCALL_BIT, "deny", 0)
    special = {table["clone"]: "clone", table["clone3"]: "enosys",
               table["personality"]: "personality", table["socket"]: "socket"}
    for nr in sorted({table[n] for n in DENIED if n in table}):
        emit(_JEQ_K, nr, "deny", 0)
    for nr, label in sorted(special.items()):
        emit(_JEQ_K, nr, label, 0)
    emit(_RET_K, SECCOMP_RET_ALLOW)
    ops.append((-1, 0, 0, "clone"))
    emit(_LD_W_ABS, _ARG0)
    emit(_JSET_K, CLONE_NAMESPACE_FLAGS, "deny", "allow")
    ops.append((-1, 0, 0, "personality"))
    emit(_LD_W_ABS, _ARG0)
    for value in PERSONALITY_ALLOWED:
        emit(_JEQ_K, value, "allow", 0)
    emit(_RET_K, SECCOMP_RET_ERRNO | errno.EPERM)
    ops.append((-1, 0, 0, "socket"))
    emit(_LD_W_ABS, _ARG0)
    for family in SOCKET_FAMILIES_DENIED:
        emit(_JEQ_K, family, "deny", 0)
    ops.append((-1, 0, 0, "allow"))
    emit(_RET_K, SECCOMP_RET_ALLOW)
    ops.append((-1, 0, 0, "deny"))
    emit(_RET_K, SECCOMP_RET_ERRNO | errno.EPERM)
    ops.append((-1, 0, 0, "enosys"))
    emit(_RET_K, SECCOMP_RET_ERRNO | errno.ENOSYS)
    # Resolve labels into the forward offsets classic BPF jumps by.
    labels: dict[str, int] = {}
    real: list[tuple[int, int | str, int | str, int | str]] = []
    for code, jt, jf, k in ops:
        if code == -1:
            labels[str(k)] = len(real)
        else:
            real.append((code, jt, jf, k))
    out = bytearray()
    for i, (code, jt, jf, k) in enumerate(real):
        offs = []
        for target in (jt, jf):
            off = labels[target] - i - 1 if isinstance(target, str) else target
            if not 0 <= off <= 255:
                raise AssertionError(f"BPF jump out of range at {i}")
            offs.append(off)
        out += struct.pack("=HBBI", code, offs[0], offs[1], int(k))
    return bytes(out)


@functools.lru_cache(maxsize=1)
def unsupported_reason() -> str | None:
    """Why no filter can be applied here, or None when it can."""
    if machine() not in ARCHES:
        return f"no system call table for the {machine()} architecture"
    if not os.path.exists("/proc/sys/kernel/seccomp/actions_avail"):
        return "the kernel has no seccomp filter support (CONFIG_SECCOMP_FILTER)"
    return None


def denied_names(arch: str | None = None) -> list[str]:
    table = ARCHES.get(arch or machine(), (0, {}))[1]
    return sorted(n for n in DENIED if n in table)


PR_SET_NO_NEW_PRIVS = 38
PR_SET_SECCOMP = 22
SECCOMP_MODE_FILTER = 2


class Installer:
    """Installs the filter on the calling process; made before fork, called between fork and
    exec (so the child does no allocation beyond ctypes' call)."""

    def __init__(self) -> None:
        import ctypes

        self._prog = ctypes.create_string_buffer(program())
        n = len(program()) // 8

        class SockFprog(ctypes.Structure):
            _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

        self._fprog = SockFprog(n, ctypes.addressof(self._prog))
        self._addr = ctypes.addressof(self._fprog)
        self._prctl = ctypes.CDLL(None, use_errno=True).prctl
        # unsigned long arguments, as the kernel reads them: unused ones must be zero
        self._prctl.argtypes = [ctypes.c_int] + [ctypes.c_ulong] * 4
        self._get_errno = ctypes.get_errno

    def __call__(self) -> None:
        if self._prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0:
            raise OSError(self._get_errno(), "prctl(PR_SET_NO_NEW_PRIVS)")
        if self._prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, self._addr, 0, 0) != 0:
            raise OSError(self._get_errno(), "prctl(PR_SET_SECCOMP)")


@functools.lru_cache(maxsize=1)
def installer() -> Installer:
    return Installer()
