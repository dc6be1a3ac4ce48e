"""The checks Lambda applies to an uploaded zip, and an extractor that cannot escape its target.

`check_code_zip` is what create-function, update-function-code and publish-layer-version call
before storing anything: it raises `LambdaError` with Lambda's own codes and messages, and is
stricter than the cloud about unsafe entries (absolute or `..` paths, links leaving the
package), which it refuses outright. `safe_extract` unpacks a zip (already checked or not) so
that nothing is ever written outside `dest`. Neither knows about the registry or the faces.
"""

from __future__ import annotations

import base64
import errno
import hashlib
import mmap
import os
import posixpath
import re
import stat

from lambdactl import _fstree
from lambdactl._record import dataclass, field
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


NAME_MAX_BYTES = 255  # one path component on Linux file systems
PATH_MAX_BYTES = 4095  # a whole path, and a symbolic link's target
SYMLINK_HOPS = 40  # as the kernel's path walk: more is ELOOP


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


def _fs_bytes(text: str) -> int:
    return len(text.encode("utf-8", "surrogateescape"))


@dataclass
class PlannedEntry:
    """One entry as it will exist on disk: its path components below the root and its kind."""

    parts: tuple[str, ...]
    entry: ZipEntry
    kind: str  # 'dir' | 'file' | 'link'
    target: str | None = None


@dataclass(slots=True, eq=False, repr=False)
class _Node:
    """A directory, file or link of the planned tree (a trie: lookups never build paths)."""

    kind: str
    parent: _Node | None
    entry: ZipEntry | None = None
    target: str | None = None
    children: dict[str, _Node] = field(default_factory=dict)
    depth: int = 0  # derived from the parent

    def __post_init__(self) -> None:
        if self.parent is not None:
            self.depth = self.parent.depth + 1


# Path components walked to resolve every link of one archive, at most: resolution is memoised
# (each link's target is walked once), so only a pathological archive comes near this.
LINK_WALK_BUDGET = 2_000_000
# On Lambda the code is unpacked under /var/task/: what a path inside the package may add.
PACKAGE_PATH_MAX_BYTES = PATH_MAX_BYTES - len("/var/task/")


def plan_tree(data: zipscan.Buffer, result: ZipScan) -> list[PlannedEntry]:
    """The package's tree as extraction will make it, or the reason it cannot be made safely.

    Both the upload check and the extractor go through here, so a zip accepted at upload is
    one the extractor can unpack: names are taken apart as the file system will (`./a` and
    `a//b` are `a` and `a/b`), every path must be creatable (component and path lengths,
    no file where a directory must go, nothing written through a symbolic link), and every
    link is resolved against the whole tree (links through links included) and must stay in it.
    Work is linear in the archive: a trie for the tree, each link resolved once.
    """
    root = _Node("dir", None)
    planned: list[PlannedEntry] = []
    links: list[_Node] = []
    for entry in result.entries:
        if entry.encrypted or entry.method not in (zipscan.STORED, zipscan.DEFLATED):
            raise _unzip_error(f"entry {entry.name!r} is encrypted or uses an unsupported method")
        reason = unsafe_reason(entry)
        if reason:
            raise _unzip_error(reason)
        parts = tuple(p for p in entry.name.split("/") if p not in ("", "."))
        if not parts:
            if entry.is_dir:
                continue  # "./": the root itself
            raise _unzip_error(f"entry {entry.name!r} has no file name")
        if any(_fs_bytes(p) > NAME_MAX_BYTES for p in parts):
            raise _unzip_error(f"entry {entry.name!r} has a name longer than {NAME_MAX_BYTES} bytes")
        if _fs_bytes("/".join(parts)) > PACKAGE_PATH_MAX_BYTES:
            raise _unzip_error(f"entry {entry.name!r} has a path longer than {PACKAGE_PATH_MAX_BYTES} bytes")
        kind = "dir" if entry.is_dir else "link" if entry.is_symlink else "file"
        target = None
        if kind == "link":
            if entry.size > PATH_MAX_BYTES:
                raise _unzip_error(f"symbolic link {entry.name!r} has a target longer than {PATH_MAX_BYTES} bytes")
            try:
                target = zipscan.read_entry(data, entry).decode("utf-8", "surrogateescape")
            except CorruptZipError as exc:
                raise _unzip_error() from exc
            reason = unsafe_reason(entry, target)
            if reason:
                raise _unzip_error(reason)
            if not target:
                raise _unzip_error(f"symbolic link {entry.name!r} has an empty target")
        parent = root
        for part in parts[:-1]:
            above = parent.children.get(part)
            if above is None:
                above = parent.children[part] = _Node("dir", parent)
            elif above.kind == "link":
                raise _unzip_error(f"entry {entry.name!r} would be written through a link")
            elif above.kind == "file":
                raise _unzip_error(f"entry {entry.name!r} collides with another entry")
            parent = above
        existing = parent.children.get(parts[-1])
        if existing is not None and not (existing.kind == "dir" and kind == "dir"):
            raise _unzip_error(f"entry {entry.name!r} appears twice")
        if existing is None:
            node = parent.children[parts[-1]] = _Node(kind, parent, entry, target)
            if kind == "link":
                links.append(node)
        planned.append(PlannedEntry(parts, entry, kind, target))
    resolver = _LinkResolver()
    for link in links:
        if resolver.resolve(link) is _ESCAPES:
            assert link.entry is not None
            raise _unzip_error(f"symbolic link {link.entry.name.rstrip('/')!r} points outside the package")
    return planned


_ESCAPES = object()  # leaves the tree, or loops: refused
_NOWHERE = object()  # ENOENT or ENOTDIR when followed: harmless


class _LinkResolver:
    """Follows links in the planned tree the way the kernel's path walk would, memoising where
    each link leads so that chains of links cost their length once, not once per use."""

    def __init__(self) -> None:
        self.memo: dict[int, object] = {}
        self.active: set[int] = set()
        self.budget = LINK_WALK_BUDGET

    def resolve(self, link: _Node) -> object:
        key = id(link)
        if key in self.memo:
            return self.memo[key]
        if key in self.active or len(self.active) >= SYMLINK_HOPS:
            return _ESCAPES  # a loop (ELOOP), or deeper than the kernel follows
        self.active.add(key)
        assert link.parent is not None and link.target is not None
        where = self._walk(link.parent, link.target)
        self.active.discard(key)
        self.memo[key] = where
        return where

    def _walk(self, start: _Node, target: str) -> object:
        pieces = [p for p in target.split("/") if p not in ("", ".")]
        self.budget -= len(pieces)
        if self.budget < 0:
            raise _unzip_error("its symbolic links take too long to resolve")
        node = start
        for i, piece in enumerate(pieces):
            if piece == "..":
                if node.parent is None:
                    return _ESCAPES
                node = node.parent
                continue
            if node.kind != "dir":
                return _NOWHERE
            child = node.children.get(piece)
            if child is None:
                # Missing from here on. The kernel stops at it (ENOENT); stricter, refuse a
                # remainder that would climb out by its spelling alone.
                depth = node.depth + 1
                for rest in pieces[i + 1:]:
                    depth += -1 if rest == ".." else 1
                    if depth < 0:
                        return _ESCAPES
                return _NOWHERE
            if child.kind == "link":
                where = self.resolve(child)
                if where is _ESCAPES or where is _NOWHERE:
                    return where
                assert isinstance(where, _Node)
                node = where
            else:
                node = child
        return node


def _scan_or_refuse(buf: zipscan.Buffer) -> ZipScan:
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
    planned = plan_tree(data, result)
    for node in planned:
        if node.kind == "file":
            try:
                for _ in zipscan.iter_entry(data, node.entry):
                    pass
            except CorruptZipError as exc:
                raise _unzip_error() from exc
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
    planned = plan_tree(data, result)
    nofollow = getattr(os, "O_NOFOLLOW", 0)
    # The plan admits no path through a link, and links are made last: directories and files
    # are written into a tree that holds none yet, created exclusively and never followed.
    dir_modes: dict[str, int] = {}
    for node in planned:
        path = os.path.join(root, *node.parts)
        try:
            if node.kind == "dir":
                _fstree.makedirs(path)
                if node.entry.has_unix_mode:
                    dir_modes[path] = (node.entry.mode & 0o777) | 0o700
                continue
            _fstree.makedirs(os.path.dirname(path))
            if node.kind == "link":
                continue
            mode = _file_mode(node.entry)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | nofollow, 0o600)
            with os.fdopen(fd, "wb") as out:
                for chunk in zipscan.iter_entry(data, node.entry):
                    out.write(chunk)
            os.chmod(path, mode)
        except CorruptZipError as exc:
            raise _unzip_error() from exc
        except FileExistsError as exc:
            raise _unzip_error(f"entry {node.entry.name!r} collides with another entry") from exc
        except OSError as exc:
            if exc.errno in (errno.ENOSPC, errno.EDQUOT, errno.EIO):
                raise  # the disk's trouble, not the package's
            # e.g. a path the package may hold (under /var/task) that is too long below `dest`
            raise _unzip_error(f"entry {node.entry.name!r} cannot be written here: {exc.strerror}") from exc
    for node in planned:
        if node.kind == "link":
            assert node.target is not None
            os.symlink(node.target, os.path.join(root, *node.parts))
    # Directories keep the package's permission bits too (the owner may always write, to clean
    # up); those the zip does not list are 0755 whatever the umask.
    for dirpath, _dirs, _files in _fstree.walk(root):
        mode = dir_modes.get(dirpath, 0o755)
        if dirpath != root and stat.S_IMODE(os.stat(dirpath).st_mode) != mode:
            os.chmod(dirpath, mode)
    return len(result.entries)
