"""Functions whose code is a local folder (`--code-dir`), for edit-and-invoke without redeploys.

The folder is mounted read-only as the task root. Each invocation compares a cheap signature of
the tree (names, sizes, modification times) with the one its warm environment was built for, so a
saved change is what the next invocation runs. A snapshot zip, built exactly as `lambdactl package`
builds it, gives the function its CodeSha256 and is what `publish-version` freezes.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any

from ..errors import LambdaError, invalid

SKIPPED_DIRS = frozenset({"__pycache__", ".git", ".hg", ".svn", "node_modules/.cache"})


def check_dir(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise invalid("CodeDir must be a directory path.")
    path = os.path.abspath(os.path.expanduser(value))
    if not os.path.isdir(path):
        raise invalid(f"The code directory {path} does not exist or is not a directory.")
    return path


def snapshot(path: str) -> bytes:
    """The folder as the deployment zip `lambdactl package` would build from it."""
    from ..packaging.build import PackagingError, build_zip

    with tempfile.TemporaryDirectory(prefix="lambdactl-codedir-") as tmp:
        out = Path(tmp) / "code.zip"
        try:
            build_zip(Path(path), out)
        except PackagingError as exc:
            raise invalid(f"Cannot package {path}: {exc}") from None
        return out.read_bytes()


def signature(path: str) -> str:
    """A digest of every file's name, size and mtime: changes whenever a file is saved.

    Runs on every invocation of a --code-dir function; a stat per file, no reads.
    """
    h = hashlib.blake2b(digest_size=16)
    stack = [path]
    try:
        while stack:
            current = stack.pop()
            entries = sorted(os.scandir(current), key=lambda e: e.name)
            for entry in entries:
                if entry.is_dir(follow_symlinks=False):
                    if entry.name not in SKIPPED_DIRS:
                        stack.append(entry.path)
                    continue
                st = entry.stat()
                h.update(f"{entry.path}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    except OSError as exc:
        raise LambdaError(
            "ResourceNotReadyException", f"The code directory {path} cannot be read: {exc.strerror}", 502
        ) from None
    return h.hexdigest()
