"""The checks Lambda applies to an uploaded zip, and an extractor that cannot escape its target.

`check_code_zip` is what create-function, update-function-code and publish-layer-version call
before storing anything: it raises `LambdaError` with Lambda's own codes and messages, and is
stricter than the cloud about unsafe entries (absolute or `..` paths, links leaving the
package), which it refuses outright. `safe_extract` unpacks a zip (already checked or not) so
that nothing is ever written outside `dest`. Neither knows about the registry or the faces.
"""

from __future__ import annotations

import base64
import hashlib
import mmap
import os
import posixpath
import re
import stat
from dataclasses import dataclass
from pathlib import Path

from lambdactl.errors import LambdaError, invalid
from lambdactl.limits import MAX_UNZIPPED_BYTES, MAX_ZIPPED_UPLOAD_BYTES
from lambdactl.packaging import zipscan
from lambdactl.packaging.zipscan import CorruptZipError, NotAZipError, ZipEntry, ZipScan

UNZIP_MESSAGE = "Could not unzip uploaded file. Please check your file, then try to upload again."


@dataclass(frozen=True)
class ZipFacts:
    """What the registry stores about accepted code: CodeSha256 (base64), CodeSize, unzipped size."""

    sha256_b64: str
    size: int
    unzipped_size: int


def _unzip_error(detail: str | None = None) -> LambdaError:
    # Lambda's exact text first so clients matching on it still do; our reason after it.
    return invalid(UNZIP_MESSAGE if detail is None else f"{UNZIP_MESSAGE} ({detail})")


def unsafe_reason(entry: ZipEntry, target: str | None = None) -> str | None:
    """Why extracting this entry could write or point outside the target directory, if it could."""
    name = entry.name
    if not name or "\x00" in name:
        return f"entry {name!r} has an empty name or a NUL byte"
    if name.startswith(("/", "\\")) or re.match(r"[A-Za-z]:", name):
        return f"entry {name!r} has an absolute path"
    if ".." in re.split(r"[/\\]", name):
        return f"entry {name!r} climbs out with '..'"
    if target is not None:
        if target.startswith("/") or "\x00" in target:
            return f"symbolic link {name!r} points to an absolute path"
        resolved = posixpath.normpath(posixpath.join(posixpath.dirname(name.rstrip("/")), target))
        if resolved == ".." or resolved.startswith("../"):
            return f"symbolic link {name!r} points outside the package"
    return None


def _scan_or_refuse(buf: bytes | memoryview) -> ZipScan:
    try:
        result = zipscan.scan(buf)
    except (NotAZipError, CorruptZipError) as exc:
        raise _unzip_error() from exc
    if result.problems or result.overlaps:
        raise _unzip_error()
    return result


def check_code_zip(data: bytes, *, extra_unzipped_bytes: int = 0) -> ZipFacts:
    """Accept or refuse uploaded code (or layer content) as Lambda would, before storing it.

    Order as in Lambda: the zipped size (413), then whether it unzips, then the unzipped size
    plus `extra_unzipped_bytes` (the function's layers). Every entry is inflated and its CRC
    checked, with output capped at the declared size, so a zip bomb with lying headers is
    refused without ever being held in memory or written out.
    """
    if len(data) > MAX_ZIPPED_UPLOAD_BYTES:
        raise LambdaError("RequestEntityTooLargeException",
                          f"Zipped size must be smaller than {MAX_ZIPPED_UPLOAD_BYTES} bytes", 413)
    result = _scan_or_refuse(data)
    declared = result.unzipped_size + extra_unzipped_bytes
    if declared >= MAX_UNZIPPED_BYTES:
        raise invalid(f"Unzipped size must be smaller than {MAX_UNZIPPED_BYTES} bytes")
    seen: set[str] = set()
    for entry in result.entries:
        if entry.encrypted or entry.method not in (zipscan.STORED, zipscan.DEFLATED):
            raise _unzip_error(f"entry {entry.name!r} is encrypted or uses an unsupported method")
        key = entry.name.rstrip("/")
        if key in seen:
            raise _unzip_error(f"entry {entry.name!r} appears twice")
        seen.add(key)
        target = None
        try:
            if entry.is_symlink:
                target = zipscan.read_entry(data, entry).decode("utf-8", "surrogateescape")
            else:
                for _ in zipscan.iter_entry(data, entry):
                    pass
        except CorruptZipError as exc:
            raise _unzip_error() from exc
        reason = unsafe_reason(entry, target)
        if reason:
            raise _unzip_error(reason)
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode("ascii")
    return ZipFacts(digest, len(data), result.unzipped_size)


def _file_mode(entry: ZipEntry) -> int:
    """Keep the package's permission bits (Lambda does); no setuid, and the owner can clean up."""
    if not entry.has_unix_mode:
        return 0o644
    return (entry.mode & 0o777) | 0o600


def safe_extract(zip_path: str | os.PathLike[str], dest: str | os.PathLike[str], *,
                 max_unzipped_bytes: int = MAX_UNZIPPED_BYTES) -> int:
    """Extract `zip_path` into the existing directory `dest`; returns the number of entries.

    Declared sizes over `max_unzipped_bytes` are refused before anything is written, and each
    entry's output is capped at its declared size, so a bomb cannot fill the disk.

    Refuses (LambdaError, InvalidParameterValueException) absolute, `..` and duplicate names
    and links leaving `dest`. Files are created with O_EXCL|O_NOFOLLOW and symbolic links only
    after every file is written, then each link is resolved and checked, so no sequence of
    entries (a link followed by a file "through" it) can write outside `dest`. On refusal,
    what was written stays in `dest` for the caller to remove with its temp directory.
    """
    root = os.path.realpath(dest)
    if not os.path.isdir(root):
        raise FileNotFoundError(f"{dest}: not a directory")
    with open(zip_path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        # Mapped, not read: a layer may be hundreds of MB and only a window is touched at a time.
        data: bytes | mmap.mmap = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) if size else b""
    try:
        return _extract(data, root, max_unzipped_bytes)
    finally:
        if isinstance(data, mmap.mmap):
            data.close()


def _extract(data: bytes | mmap.mmap, root: str, max_unzipped_bytes: int) -> int:
    result = _scan_or_refuse(data)
    if result.unzipped_size >= max_unzipped_bytes:
        raise invalid(f"Unzipped size must be smaller than {max_unzipped_bytes} bytes")
    links: list[tuple[str, str]] = []
    names: set[str] = set()
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    for entry in result.entries:
        # A backslash is an ordinary character on Linux (Lambda keeps `a\b.py` as one name),
        # and `..` / drive prefixes are refused whichever separator they use.
        reason = unsafe_reason(entry)
        if reason:
            raise _unzip_error(reason)
        rel = entry.name.rstrip("/")
        if rel in names:
            raise _unzip_error(f"entry {entry.name!r} appears twice")
        names.add(rel)
        path = os.path.join(root, *rel.split("/"))
        try:
            if entry.is_dir:
                os.makedirs(path, exist_ok=True)
                continue
            parent = os.path.dirname(path)
            os.makedirs(parent, exist_ok=True)
            if os.path.realpath(parent) != parent:
                raise _unzip_error(f"entry {entry.name!r} would be written through a link")
            if entry.is_symlink:
                links.append((path, zipscan.read_entry(data, entry).decode("utf-8", "surrogateescape")))
                continue
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | nofollow, _file_mode(entry))
            with os.fdopen(fd, "wb") as out:
                for chunk in zipscan.iter_entry(data, entry):
                    out.write(chunk)
            os.chmod(path, _file_mode(entry))
        except CorruptZipError as exc:
            raise _unzip_error() from exc
        except FileExistsError as exc:
            raise _unzip_error(f"entry {entry.name!r} collides with another entry") from exc
    for path, target in links:
        try:
            os.symlink(target, path)
        except FileExistsError as exc:
            rel = os.path.relpath(path, root)
            raise _unzip_error(f"symbolic link {rel!r} collides with another entry") from exc
    for path, _ in links:
        real = os.path.realpath(path)
        if real != root and not real.startswith(root + os.sep):
            raise _unzip_error(f"symbolic link {os.path.relpath(path, root)!r} points outside the package")
    for dirpath, _dirs, _files in os.walk(root):
        if dirpath != root and stat.S_IMODE(os.stat(dirpath).st_mode) != 0o755:
            os.chmod(dirpath, 0o755)
    return len(result.entries)


def zip_facts(path: Path) -> ZipFacts:
    """CodeSha256, CodeSize and unzipped size of a zip on disk, after `check_code_zip`."""
    return check_code_zip(Path(path).read_bytes())
