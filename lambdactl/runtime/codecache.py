"""Extracted code and layer trees, made once per digest and read-only ever after.

Owns: unpacking a deployment zip into `cache/<sha256>/` without ever writing outside it (absolute
names, `..`, escaping symlinks and zip bombs are refused), keeping the executable bit, making the
tree read-only, and merging a function's layers into one `/opt` tree (later layers win). Every
tree is built under a temporary name and renamed into place, so concurrent callers (several CLI
processes, a server) either see a complete tree or build their own and lose the rename race.
Must not know where the zips come from (the store) or how the trees are mounted (the sandbox).
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Sequence
from pathlib import Path

from lambdactl import _fstree
from lambdactl.errors import LambdaError
from lambdactl.limits import MAX_UNZIPPED_BYTES

HEX_RE = re.compile(r"[0-9a-f]{64}")


def _bad_zip(message: str) -> LambdaError:
    return LambdaError("InvalidZipFileException", message, 502)


def _make_read_only(root: Path) -> None:
    """Nothing writable, and each file's and directory's access as its "other" bits say.

    Lambda runs code as a user who owns none of it, so the package's world bits decide what
    the function may read and run (a 0600 module is "Permission denied" there). Those bits are
    given to owner, group and other alike, so every sandbox mode sees the same.
    """
    def shown(st_mode: int) -> int:
        return (0o444 if st_mode & 0o004 else 0) | (0o111 if st_mode & 0o001 else 0)

    for dirpath, dirnames, filenames in _fstree.walk(str(root), topdown=False):
        for f in filenames:
            p = os.path.join(dirpath, f)
            st = os.lstat(p)
            if stat.S_ISREG(st.st_mode):
                os.chmod(p, shown(st.st_mode))
        for d in dirnames:
            p = os.path.join(dirpath, d)
            st = os.lstat(p)
            if stat.S_ISDIR(st.st_mode):
                os.chmod(p, shown(st.st_mode))
    os.chmod(root, 0o555)


def remove_tree(path: Path) -> None:
    """rmtree that also works on our read-only trees when not running as root, and on trees
    nested deeper than the interpreter's recursion limit."""
    _fstree.rmtree(path, ignore_errors=True)


ABANDONED_AFTER_S = 3600.0


def _sweep_abandoned(cache_dir: Path) -> None:
    """Remove half-built trees that killed processes left, of any digest (an hour old: no live
    extraction takes that long). Runs only when a tree is built, not on every lookup."""
    import time

    try:
        names = [n for n in os.listdir(cache_dir) if n.startswith(".") and "-" in n]
    except OSError:
        return
    for name in names:
        path = cache_dir / name
        with contextlib.suppress(OSError):
            if path.is_dir() and time.time() - path.lstat().st_mtime > ABANDONED_AFTER_S:
                remove_tree(path)


def _publish(tmp: Path, target: Path) -> Path:
    """Rename a finished tree into place; if another caller won the race, keep theirs."""
    try:
        os.rename(tmp, target)
    except OSError:
        if not target.is_dir():
            remove_tree(tmp)
            raise
        remove_tree(tmp)
    return target


def ensure_extracted(cache_dir: Path, sha256_hex: str, zip_path: Path,
                     max_bytes: int = MAX_UNZIPPED_BYTES) -> Path:
    """`cache_dir/<sha256_hex>/`, extracted from `zip_path` unless it already exists."""
    if not HEX_RE.fullmatch(sha256_hex):
        raise ValueError(f"not a lowercase sha256 hex digest: {sha256_hex!r}")
    target = cache_dir / sha256_hex
    if target.is_dir():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    import tempfile  # these only when a tree is built, not on every lookup

    from lambdactl.packaging.validate import safe_extract

    _sweep_abandoned(cache_dir)
    tmp = Path(tempfile.mkdtemp(prefix=f".{sha256_hex[:16]}-", dir=cache_dir))
    try:
        try:
            # The extractor the upload check shares its rules with: code accepted then unpacks.
            safe_extract(zip_path, tmp, max_unzipped_bytes=max_bytes)
        except LambdaError as e:
            raise _bad_zip(e.message) from e
        _make_read_only(tmp)
    except BaseException:
        remove_tree(tmp)
        raise
    return _publish(tmp, target)


def _link_or_copy(src: str, dst: str) -> None:
    if os.path.islink(src):
        os.symlink(os.readlink(src), dst)
        return
    try:
        os.link(src, dst)  # same filesystem: no bytes copied, and the file is already 0444
    except OSError:
        import shutil

        shutil.copy2(src, dst)


def _remove_any(p: str) -> None:
    if os.path.isdir(p) and not os.path.islink(p):
        remove_tree(Path(p))
    elif os.path.lexists(p):
        os.unlink(p)


def merge_layers(cache_dir: Path, layer_dirs: Sequence[Path]) -> Path | None:
    """One /opt tree from extracted layers in order (later layers win); None without layers.

    A single layer is used as it is; several are merged once into `cache_dir/opt-<key>/`, keyed
    by the ordered list of layer directories.
    """
    if not layer_dirs:
        return None
    if len(layer_dirs) == 1:
        return layer_dirs[0]
    import hashlib
    import tempfile

    key = hashlib.sha256("\n".join(str(p.name) for p in layer_dirs).encode()).hexdigest()
    target = cache_dir / f"opt-{key}"
    if target.is_dir():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".opt-{key[:16]}-", dir=cache_dir))
    try:
        for layer in layer_dirs:
            for dirpath, dirnames, filenames in _fstree.walk(str(layer)):
                rel = os.path.relpath(dirpath, layer)
                out_dir = os.path.join(tmp, rel) if rel != "." else str(tmp)
                for d in list(dirnames):
                    src = os.path.join(dirpath, d)
                    dst = os.path.join(out_dir, d)
                    if os.path.islink(src):  # a symlinked dir is copied as a link, not walked
                        dirnames.remove(d)
                        _remove_any(dst)
                        _link_or_copy(src, dst)
                    elif not os.path.isdir(dst) or os.path.islink(dst):
                        _remove_any(dst)
                        os.mkdir(dst, 0o755)
                    else:
                        os.chmod(dst, 0o755)
                for f in filenames:
                    dst = os.path.join(out_dir, f)
                    _remove_any(dst)
                    _link_or_copy(os.path.join(dirpath, f), dst)
        _make_read_only(tmp)
    except BaseException:
        remove_tree(tmp)
        raise
    return _publish(tmp, target)


def trees_in_use() -> set[str]:
    """Digests a live process may be using a tree of: in its working directory (a fallback
    sandbox runs in its task root), in the environment or command line of a Runtime API client
    (the fallback's layer paths), or in a mount of another mount namespace (bubblewrap binds /var/task and /opt
    from the cache). Processes this user cannot inspect are not ours to worry about."""
    found: set[str] = set()
    try:
        own_ns = os.readlink("/proc/self/ns/mnt")
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return found
    for pid in pids:
        with contextlib.suppress(OSError):
            found.update(HEX_RE.findall(os.readlink(f"/proc/{pid}/cwd")))
            with open(f"/proc/{pid}/environ", "rb") as fh:
                environ = fh.read()
            if b"AWS_LAMBDA_RUNTIME_API=" in environ:
                with open(f"/proc/{pid}/cmdline", "rb") as fh:
                    found.update(HEX_RE.findall((environ + fh.read()).decode("utf-8", "replace")))
            if os.readlink(f"/proc/{pid}/ns/mnt") != own_ns:
                with open(f"/proc/{pid}/mountinfo", encoding="utf-8", errors="replace") as fh:
                    found.update(HEX_RE.findall(fh.read()))
    return found


def tree_bytes(path: Path) -> int:
    total = 0
    for dirpath, _, filenames in _fstree.walk(str(path)):
        for f in filenames:
            with contextlib.suppress(OSError):
                total += os.lstat(os.path.join(dirpath, f)).st_size
    return total


def collect_trees(cache_dir: Path, keep: set[str]) -> list[tuple[str, int]]:
    """Remove the extracted trees `cache_dir/<sha256>/` whose digest is not in `keep` and that
    no live process uses (see trees_in_use). Returns the names removed and their bytes."""
    try:
        names = [n for n in os.listdir(cache_dir) if HEX_RE.fullmatch(n) and n not in keep]
    except OSError:
        return []
    if not names:
        return []
    busy = trees_in_use()
    removed = []
    for name in names:
        if name in busy:
            continue
        path = cache_dir / name
        size = tree_bytes(path)
        with contextlib.suppress(OSError):
            remove_tree(path)
            removed.append((name, size))
    return removed
