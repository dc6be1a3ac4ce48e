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
    sha_hex = sha_hex or digest(data)
    target = directory / f"{sha_hex}.zip"
    if target.exists():
        return sha_hex
    directory.mkdir(parents=True, exist_ok=True)
    _sweep_partial(directory)
    tmp = directory / f".{sha_hex}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        tmp.unlink(missing_ok=True)  # a full disk gets its space back at once
        raise
    return sha_hex


PARTIAL_AFTER_S = 60.0


def _sweep_partial(directory: Path) -> None:
    """Remove half-written blobs of processes killed mid-upload: their writer is gone, and they
    are a minute old (a writer in another pid namespace finishes long before that)."""
    import time

    now = time.time()
    with os.scandir(directory) as entries:
        for entry in entries:
            name = entry.name
            if not (name.startswith(".") and name.endswith(".tmp")):
                continue
            pid = name[:-4].rpartition(".")[2]
            try:
                if (pid.isdigit() and not os.path.exists(f"/proc/{pid}")
                        and now - entry.stat(follow_symlinks=False).st_mtime > PARTIAL_AFTER_S):
                    os.unlink(entry.path)
            except OSError:
                pass


def path_of(directory: Path, sha_hex: str) -> Path:
    return directory / f"{sha_hex}.zip"


def remove(directory: Path, sha_hex: str) -> None:
    try:
        (directory / f"{sha_hex}.zip").unlink()
    except FileNotFoundError:
        pass
