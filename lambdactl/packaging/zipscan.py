"""Read a zip archive's structure without extracting it.

The linter, the upload checks and safe extraction all need the same facts: every entry's raw
name, sizes, mode and where its data lives, plus whatever is structurally wrong. `zipfile` stops
at the first oddity (or silently accepts it: duplicates, overlapping entries), so this module
parses the end record, the central directory and each local header itself and reports problems
as data. It reads content only when asked (`read_entry`), never writes to disk, and knows
nothing of Lambda's rules.
"""

from __future__ import annotations

import stat
import struct
import zlib
from collections.abc import Iterator

from lambdactl._record import dataclass, field

TYPE_CHECKING = False
if TYPE_CHECKING:
    import mmap
    from typing import TypeAlias

    # What the readers below accept: an archive in memory or mapped from its file.
    Buffer: TypeAlias = bytes | memoryview | mmap.mmap

EOCD_SIG = b"PK\x05\x06"
ZIP64_LOCATOR_SIG = b"PK\x06\x07"
ZIP64_EOCD_SIG = b"PK\x06\x06"
CENTRAL_SIG = b"PK\x01\x02"
LOCAL_SIG = b"PK\x03\x04"

_EOCD = struct.Struct("<4s4H2LH")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
_ZIP64_EOCD = struct.Struct("<4sQ2H2L4Q")
_CENTRAL = struct.Struct("<4s4B4HL2L5H2L")
_LOCAL = struct.Struct("<4s2B4HL2L2H")

STORED = 0
DEFLATED = 8
FLAG_ENCRYPTED = 0x1
FLAG_DATA_DESCRIPTOR = 0x8
FLAG_UTF8 = 0x800
READ_CHUNK_BYTES = 1 << 20


class NotAZipError(Exception):
    """The bytes have no end-of-central-directory record: not a zip archive at all."""


class CorruptZipError(Exception):
    """The archive claims to be a zip but its central directory cannot be read."""


class InflatesLargerError(CorruptZipError):
    """An entry inflates to more than its declared size: how zip bombs get past size checks."""


@dataclass(slots=True)
class ZipEntry:
    """One central-directory record, with where its data starts once the local header is read."""

    index: int
    name: str
    raw_name: bytes
    flags: int
    method: int
    crc: int
    compressed_size: int
    size: int
    header_offset: int
    create_system: int
    external_attr: int
    data_offset: int = -1  # -1 until the local header has been checked
    # Derived once here: rules test them for every entry, many times over.
    mode: int = 0  # the Unix st_mode stored by the zipping tool (0: none, as on Windows)
    has_unix_mode: bool = False
    is_dir: bool = False
    is_symlink: bool = False

    def __post_init__(self) -> None:
        self.mode = self.external_attr >> 16
        self.has_unix_mode = self.mode != 0
        self.is_dir = self.name.endswith("/") or (self.has_unix_mode and stat.S_ISDIR(self.mode))
        self.is_symlink = self.has_unix_mode and stat.S_ISLNK(self.mode)

    @property
    def encrypted(self) -> bool:
        return bool(self.flags & FLAG_ENCRYPTED)


@dataclass
class ZipScan:
    """The parsed structure of an archive, and every structural problem found on the way."""

    size: int
    entries: list[ZipEntry]
    cd_offset: int
    cd_size: int
    zip64: bool
    problems: list[tuple[str, str]] = field(default_factory=list)  # (entry name or "", text)
    overlaps: list[tuple[str, str]] = field(default_factory=list)  # entries sharing bytes

    @property
    def unzipped_size(self) -> int:
        return sum(e.size for e in self.entries)


def _decode_name(raw: bytes, flags: int) -> str:
    # Same rule as zipfile and unzip: UTF-8 when flagged, else the historical cp437; invalid
    # UTF-8 keeps its bytes visible through surrogateescape instead of failing the whole scan.
    if flags & FLAG_UTF8:
        return raw.decode("utf-8", "surrogateescape")
    try:
        return raw.decode("ascii")
    except UnicodeDecodeError:
        return raw.decode("cp437")


def _find_eocd(buf: Buffer, size: int) -> int:
    start = max(0, size - (_EOCD.size + 0xFFFF))
    tail = bytes(buf[start:size])
    pos = tail.rfind(EOCD_SIG)
    while pos >= 0:
        if pos + _EOCD.size <= len(tail):
            comment_len = struct.unpack_from("<H", tail, pos + 20)[0]
            if pos + _EOCD.size + comment_len <= len(tail):
                return start + pos
        pos = tail.rfind(EOCD_SIG, 0, pos)
    raise NotAZipError("no end of central directory record")


def _zip64_extra(extra: bytes, need: list[str]) -> dict[str, int]:
    """Values of the ZIP64 extra field (0x0001), in the order the spec lists them."""
    out: dict[str, int] = {}
    i = 0
    while i + 4 <= len(extra):
        tag, ln = struct.unpack_from("<HH", extra, i)
        if tag == 1:
            j = i + 4
            for name in need:
                if j + 8 > i + 4 + ln:
                    break
                out[name] = struct.unpack_from("<Q", extra, j)[0]
                j += 8
            break
        i += 4 + ln
    return out


def scan(buf: Buffer) -> ZipScan:
    """Parse the archive in `buf` (bytes or an mmap): central directory and local headers.

    Raises NotAZipError when there is no end record and CorruptZipError when the central
    directory is unreadable; anything else wrong is listed in `problems` / `overlaps` so a
    linter can report all of it at once.
    """
    size = len(buf)
    looks_like_zip = bytes(buf[:4]) == LOCAL_SIG
    try:
        if size < _EOCD.size:
            raise NotAZipError("too short to be a zip archive")
        eocd = _find_eocd(buf, size)
    except NotAZipError as exc:
        if looks_like_zip:  # starts like a zip: it was cut short, not something else
            raise CorruptZipError("no end of central directory record (truncated?)") from exc
        raise
    _, disk, cd_disk, _n_disk, n_entries, cd_size, cd_offset, _ = _EOCD.unpack_from(buf, eocd)
    zip64 = False
    loc = eocd - _ZIP64_LOCATOR.size
    if loc >= 0 and bytes(buf[loc:loc + 4]) == ZIP64_LOCATOR_SIG:
        _, _, z64_offset, _ = _ZIP64_LOCATOR.unpack_from(buf, loc)
        if z64_offset + _ZIP64_EOCD.size > size or bytes(buf[z64_offset:z64_offset + 4]) != ZIP64_EOCD_SIG:
            raise CorruptZipError("ZIP64 end record missing")
        fields = _ZIP64_EOCD.unpack_from(buf, z64_offset)
        n_entries, cd_size, cd_offset = fields[7], fields[8], fields[9]
        zip64 = True
        cd_end_expected = z64_offset
    else:
        cd_end_expected = eocd
    if disk != 0 or cd_disk != 0:
        raise CorruptZipError("multi-disk (spanned) archives are not supported")
    if cd_offset + cd_size > size:
        raise CorruptZipError("central directory lies beyond the end of the file (truncated?)")
    problems: list[tuple[str, str]] = []
    if cd_offset + cd_size != cd_end_expected:
        problems.append(("", f"{cd_end_expected - cd_offset - cd_size} stray bytes around the central directory"))

    entries: list[ZipEntry] = []
    pos = cd_offset
    cd_end = cd_offset + cd_size
    unpack = _CENTRAL.unpack_from
    for index in range(n_entries):
        if pos + _CENTRAL.size > cd_end or bytes(buf[pos:pos + 4]) != CENTRAL_SIG:
            raise CorruptZipError(f"central directory record {index} is damaged")
        (_, _vmade, system, _vneed, _, flags, method, _t, _d, crc, csize, usize, nlen, elen,
         clen, _disk, _iattr, eattr, offset) = unpack(buf, pos)
        name_start = pos + _CENTRAL.size
        raw = bytes(buf[name_start:name_start + nlen])
        if usize == 0xFFFFFFFF or csize == 0xFFFFFFFF or offset == 0xFFFFFFFF:
            need = [k for k, v in (("usize", usize), ("csize", csize), ("offset", offset))
                    if v == 0xFFFFFFFF]
            z = _zip64_extra(bytes(buf[name_start + nlen:name_start + nlen + elen]), need)
            usize, csize, offset = z.get("usize", usize), z.get("csize", csize), z.get("offset", offset)
        entries.append(ZipEntry(index, _decode_name(raw, flags), raw, flags, method, crc, csize,
                                usize, offset, system, eattr))
        pos = name_start + nlen + elen + clen
    if pos > cd_end:
        raise CorruptZipError("central directory overruns its declared size")

    result = ZipScan(size, entries, cd_offset, cd_size, zip64, problems)
    _check_local_headers(buf, result)
    return result


def _check_local_headers(buf: Buffer, result: ZipScan) -> None:
    """Match each local header to its central record and find entries whose data overlap."""
    problems = result.problems
    limit = result.cd_offset
    unpack = _LOCAL.unpack_from
    for e in result.entries:
        off = e.header_offset
        if off + _LOCAL.size > limit or bytes(buf[off:off + 4]) != LOCAL_SIG:
            problems.append((e.name, "local header missing or outside the archive"))
            continue
        (_, _v, _s, flags, method, _t, _d, crc, csize, usize, nlen, elen) = unpack(buf, off)
        name = bytes(buf[off + _LOCAL.size:off + _LOCAL.size + nlen])
        if name != e.raw_name:
            problems.append((e.name, "local header names a different file than the central directory"))
        if method != e.method:
            problems.append((e.name, "local and central compression methods differ"))
        if not flags & FLAG_DATA_DESCRIPTOR and csize != 0xFFFFFFFF and usize != 0xFFFFFFFF \
                and (crc, csize, usize) != (e.crc, e.compressed_size, e.size):
            problems.append((e.name, "local header sizes or CRC differ from the central directory"))
        e.data_offset = off + _LOCAL.size + nlen + elen
        if e.data_offset + e.compressed_size > limit:
            problems.append((e.name, "entry data runs past the central directory (truncated?)"))
    spans = sorted((e.header_offset, e.data_offset + e.compressed_size, e.name)
                   for e in result.entries if e.data_offset >= 0)
    for (_, end_a, name_a), (start_b, _, name_b) in zip(spans, spans[1:], strict=False):
        if start_b < end_a:
            result.overlaps.append((name_a, name_b))


def iter_entry(buf: Buffer, entry: ZipEntry, *, max_bytes: int | None = None,
               verify: bool = True) -> Iterator[bytes]:
    """Yield the entry's uncompressed bytes in bounded pieces.

    Stops after `max_bytes` when given (a prefix read: no CRC check then). Otherwise checks
    both the CRC and that the data inflate to exactly the declared size, raising
    CorruptZipError when not (a lying size is how zip bombs get past size checks).
    """
    if entry.data_offset < 0:
        raise CorruptZipError(f"{entry.name}: local header unreadable")
    if entry.encrypted:
        raise CorruptZipError(f"{entry.name}: encrypted")
    if entry.method not in (STORED, DEFLATED):
        raise CorruptZipError(f"{entry.name}: unsupported compression method {entry.method}")
    start = entry.data_offset
    end = start + entry.compressed_size
    if end > len(buf):
        raise CorruptZipError(f"{entry.name}: data truncated")
    inflater = zlib.decompressobj(-15) if entry.method == DEFLATED else None
    crc = 0
    produced = 0
    budget = entry.size + 1 if max_bytes is None else max_bytes
    pos = start
    def inflate(data: bytes) -> bytes:
        # At most a chunk at a time, whatever the entry declares: memory stays bounded.
        assert inflater is not None
        try:
            return inflater.decompress(data, min(budget - produced, READ_CHUNK_BYTES))
        except zlib.error as exc:
            raise CorruptZipError(f"{entry.name}: bad compressed data ({exc})") from None

    while pos < end and produced < budget:
        raw = bytes(buf[pos:min(end, pos + READ_CHUNK_BYTES)])
        pos += len(raw)
        chunk = raw if inflater is None else inflate(raw)
        while True:
            if chunk:
                chunk = chunk[:budget - produced]
                produced += len(chunk)
                crc = zlib.crc32(chunk, crc)
                yield chunk
            if inflater is None or produced >= budget or not inflater.unconsumed_tail:
                break
            chunk = inflate(inflater.unconsumed_tail)
    if max_bytes is not None:
        return
    if inflater is not None and produced <= entry.size:
        try:
            tail = inflater.flush()
        except zlib.error as exc:
            raise CorruptZipError(f"{entry.name}: bad compressed data ({exc})") from None
        produced += len(tail)
        crc = zlib.crc32(tail, crc)
        if not inflater.eof:
            raise CorruptZipError(f"{entry.name}: compressed data end early")
    if produced > entry.size:
        raise InflatesLargerError(f"{entry.name}: inflates to more than the {entry.size} bytes declared")
    if produced < entry.size:
        raise CorruptZipError(f"{entry.name}: inflates to fewer than the {entry.size} bytes declared")
    if verify and crc != entry.crc:
        raise CorruptZipError(f"{entry.name}: CRC mismatch")


def read_entry(buf: Buffer, entry: ZipEntry, *, max_bytes: int | None = None) -> bytes:
    """The entry's content (or its first `max_bytes`), checked as `iter_entry` checks it."""
    return b"".join(iter_entry(buf, entry, max_bytes=max_bytes))
