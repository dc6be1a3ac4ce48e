"""Content-addressed zip blobs: `code/<sha256 hex>.zip` and `layers/<sha256 hex>.zip`.

A blob is written to a temporary name and renamed, so no reader ever sees half a file. Callers hold
the registry's write lock while storing or collecting blobs, which keeps a concurrent delete from
removing a blob another process is about to reference.
"""

from __future__ import annotations

import os
from pathlib import Path


def digest(data: bytes) -> str:
    import hashlib  # not at import: most commands only look blobs up

    return hashlib.sha256(data).hexdigest()


def store(directory: Path, data: bytes, sha_hex: str | None = None) -> str:
    from ..settings import make_private_dir, open_private, temp_name

    sha_hex = sha_hex or digest(data)
    target = directory / f"{sha_hex}.zip"
    if target.exists():
        return sha_hex
    make_private_dir(directory)
    sweep_partial(directory)
    tmp = temp_name(target)
    try:
        with os.fdopen(open_private(tmp, os.O_WRONLY | os.O_EXCL), "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk gets its space back at once
        raise
    return sha_hex


PARTIAL_AFTER_S = 60.0


def sweep_partial(directory: Path) -> list[tuple[str, int]]:
    """Remove half-written files (`.NAME[.RANDOM].PID.tmp`) of processes killed mid-write: their writer
    is gone, and they are a minute old (a writer in another pid namespace finishes long before
    that). Returns the names removed and their sizes."""
    import time

    now = time.time()
    removed: list[tuple[str, int]] = []
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(".") and name.endswith(".tmp")):
            continue
        pid = name[:-4].rpartition(".")[2]
        try:
            st = entry.stat(follow_symlinks=False)
            if (pid.isdigit() and not os.path.exists(f"/proc/{pid}")
                    and now - st.st_mtime > PARTIAL_AFTER_S):
                os.unlink(entry.path)
                removed.append((name, st.st_size))
        except OSError:
            pass
    return removed


def stored(directory: Path) -> dict[str, int]:
    """The digests of the blobs in `directory`, with their sizes."""
    out: dict[str, int] = {}
    try:
        entries = list(os.scandir(directory))
    except FileNotFoundError:
        return out
    for entry in entries:
        if len(entry.name) == 68 and entry.name.endswith(".zip") and not entry.name.startswith("."):
            try:
                out[entry.name[:64]] = entry.stat(follow_symlinks=False).st_size
            except OSError:
                pass
    return out


def path_of(directory: Path, sha_hex: str) -> Path:
    return directory / f"{sha_hex}.zip"


def remove(directory: Path, sha_hex: str) -> int | None:
    """Delete a blob; its size, or None when it was not there."""
    path = directory / f"{sha_hex}.zip"
    try:
        size = path.stat().st_size
        path.unlink()
    except FileNotFoundError:
        return None
    return size
