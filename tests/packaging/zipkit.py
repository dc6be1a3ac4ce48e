"""Zip-writing helpers for the packaging tests.

`make_zip` writes archives byte by byte (raw names, missing modes, wrong CRCs, lying sizes,
ZIP64) because zipfile refuses to write most of the defects the linter must catch.
"""

from __future__ import annotations

import base64
import hashlib
import struct
import zipfile
import zlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path


@dataclass
class E:
    """One entry to write. `mode` is the full st_mode (None: store no Unix mode, as Windows)."""

    name: str | bytes
    data: bytes = b""
    mode: int | None = 0o100644
    method: int = 8
    flags: int = 0
    system: int = 3
    crc: int | None = None  # override the CRC written in both headers
    size: int | None = None  # override the declared uncompressed size

    @property
    def raw_name(self) -> bytes:
        return self.name if isinstance(self.name, bytes) else self.name.encode("utf-8")


def F(name: str, data: bytes | str = b"", mode: int = 0o644, **kw: object) -> E:  # noqa: N802
    """A regular file entry with permission bits `mode`."""
    raw = data.encode() if isinstance(data, str) else data
    return E(name, raw, 0o100000 | mode, **kw)  # type: ignore[arg-type]


def D(name: str, mode: int = 0o755) -> E:  # noqa: N802
    """A directory entry."""
    return E(name.rstrip("/") + "/", b"", 0o040000 | mode, method=0)


def L(name: str, target: str) -> E:  # noqa: N802
    """A symbolic link entry."""
    return E(name, target.encode(), 0o120777, method=0)


def make_zip(entries: Sequence[E], *, zip64: bool = False) -> bytes:
    """Write `entries` as a zip archive exactly as described, defects included."""
    local = bytearray()
    central = bytearray()
    for e in entries:
        raw = e.raw_name
        if e.method == 8:
            c = zlib.compressobj(6, zlib.DEFLATED, -15)
            payload = c.compress(e.data) + c.flush()
        else:
            payload = e.data
        crc = zlib.crc32(e.data) if e.crc is None else e.crc
        usize = len(e.data) if e.size is None else e.size
        csize = len(payload)
        attr = (e.mode << 16) if e.mode is not None else 0
        offset = len(local)
        if zip64:
            lextra = struct.pack("<HHQQ", 1, 16, usize, csize)
            cextra = struct.pack("<HHQQQ", 1, 24, usize, csize, offset)
            l_us = l_cs = c_us = c_cs = c_off = 0xFFFFFFFF
        else:
            lextra = cextra = b""
            l_us, l_cs, c_us, c_cs, c_off = usize, csize, usize, csize, offset
        local += struct.pack("<4s5H3L2H", b"PK\x03\x04", 45 if zip64 else 20, e.flags, e.method,
                             0, 33, crc, l_cs, l_us, len(raw), len(lextra)) + raw + lextra + payload
        central += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", (e.system << 8) | 20,
                               45 if zip64 else 20, e.flags, e.method, 0, 33, crc, c_cs, c_us,
                               len(raw), len(cextra), 0, 0, 0, attr, c_off) + raw + cextra
    n = len(entries)
    cd_offset = len(local)
    out = bytes(local) + bytes(central)
    if zip64:
        z64 = len(out)
        out += struct.pack("<4sQ2H2L4Q", b"PK\x06\x06", 44, 45, 45, 0, 0, n, n, len(central), cd_offset)
        out += struct.pack("<4sLQL", b"PK\x06\x07", 0, z64, 1)
        out += struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        out += struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, n, n, len(central), cd_offset, 0)
    return out


def overlapping_zip() -> bytes:
    """Two entries whose data overlap (the non-recursive zip bomb construction)."""
    inner = F("b.txt", b"x" * 1000, method=0)
    inner_bytes = make_zip([inner])
    inner_local = inner_bytes[:30 + 5 + 1000]
    outer_data = inner_local + b"tail"
    outer = make_zip([F("a.txt", outer_data, method=0)])
    # Central records: a.txt at 0, and b.txt at a.txt's data start (its local header is inside).
    a_local_len = 30 + len(b"a.txt") + len(outer_data)
    local = outer[:a_local_len]
    cd = bytearray()
    for name, data, off in ((b"a.txt", outer_data, 0), (b"b.txt", b"x" * 1000, 30 + 5)):
        cd += struct.pack("<4s6H3L5H2L", b"PK\x01\x02", (3 << 8) | 20, 20, 0, 0, 0, 33,
                          zlib.crc32(data), len(data), len(data), len(name), 0, 0, 0, 0,
                          0o100644 << 16, off) + name
    return local + bytes(cd) + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 2, 2, len(cd), len(local), 0)


def write(path: Path, data: bytes) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def elf_header(machine: int, elf_class: int = 2) -> bytes:
    """The first bytes of an ELF shared object for CPU `machine` (62 x86_64, 183 aarch64)."""
    return b"\x7fELF" + bytes([elf_class, 1, 1, 0]) + b"\0" * 8 + struct.pack("<HH", 3, machine) + b"\0" * 44


def wheel(dist: Path, name: str, tag: str, module_file: str, content: bytes) -> Path:
    """A minimal wheel file, so pip can install from a local folder without any index."""
    dist.mkdir(parents=True, exist_ok=True)
    info = f"{name}-1.0.dist-info"
    files = {
        module_file: content,
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n".encode(),
        f"{info}/WHEEL": f"Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: "
                         f"{'true' if tag == 'py3-none-any' else 'false'}\nTag: {tag}\n".encode(),
    }
    record = []
    for path, data in files.items():
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        record.append(f"{path},sha256={digest},{len(data)}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    wheel = dist / f"{name}-1.0-{tag}.whl"
    with zipfile.ZipFile(wheel, "w") as zf:
        for path, data in files.items():
            zf.writestr(path, data)
    return wheel
