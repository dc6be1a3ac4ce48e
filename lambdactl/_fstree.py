"""Directory walks and removal that do not recurse per level of depth.

A package (or a function's /tmp) may nest thousands of directories. `os.makedirs`, `os.walk` and
`shutil.rmtree` recurse once per level on the Python versions supported here (3.10, 3.11), so
such a tree raises RecursionError, not OSError, wherever it is touched. These keep an explicit
stack instead, and `rmtree` works below a directory descriptor, so paths longer than PATH_MAX
below the root are removed too.
"""

from __future__ import annotations

import contextlib
import os
import stat
from collections.abc import Iterator

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)


def makedirs(path: str) -> None:
    """`os.makedirs(path, exist_ok=True)` without recursion: one mkdir when the parent exists."""
    missing: list[str] = []
    p = path
    while True:
        try:
            os.mkdir(p)
            break
        except FileExistsError:
            if not os.path.isdir(p):
                raise
            break
        except FileNotFoundError:
            parent = os.path.dirname(p)
            if parent == p:
                raise
            missing.append(p)
            p = parent
    for p in reversed(missing):
        with contextlib.suppress(FileExistsError):
            os.mkdir(p)


def walk(top: str, topdown: bool = True) -> Iterator[tuple[str, list[str], list[str]]]:
    """As `os.walk(top, topdown)` (links to directories listed, not entered; unreadable
    directories skipped), with an explicit stack. Top-down, the caller may prune `dirnames`."""
    stack: list[tuple[str, list[str], list[str]] | str] = [os.fspath(top)]
    while stack:
        item = stack.pop()
        if not isinstance(item, str):
            yield item  # bottom-up: every child has been walked
            continue
        dirs: list[str] = []
        files: list[str] = []
        walk_into: list[str] = []
        try:
            with os.scandir(item) as it:
                for entry in it:
                    try:
                        is_dir = entry.is_dir()
                    except OSError:
                        is_dir = False
                    (dirs if is_dir else files).append(entry.name)
                    if is_dir and not topdown and not entry.is_symlink():
                        walk_into.append(entry.name)
        except OSError:
            continue
        if topdown:
            yield item, dirs, files
            walk_into = [d for d in dirs if not os.path.islink(os.path.join(item, d))]
        else:
            stack.append((item, dirs, files))
        stack.extend(os.path.join(item, d) for d in reversed(walk_into))


def rmtree(path: str | os.PathLike[str], ignore_errors: bool = False) -> None:
    """Remove a tree, making read-only directories writable on the way (our cache trees are
    read-only). Never follows a link; holds one directory descriptor at a time."""
    path = os.fspath(path)
    try:
        st = os.lstat(path)
        if not stat.S_ISDIR(st.st_mode):
            os.unlink(path)
            return
        _rmtree_fd(path)
    except FileNotFoundError:
        return
    except OSError:
        if not ignore_errors:
            raise


def _open_dir(name: str, dir_fd: int | None) -> int:
    try:
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)
    except PermissionError:
        os.chmod(name, 0o700, dir_fd=dir_fd)
        return os.open(name, _DIR_FLAGS, dir_fd=dir_fd)


def _rmtree_fd(path: str) -> None:
    # Per level: the directory's name in its parent and the subdirectories still to remove.
    # Going back up opens ".." of the directory we are in, so no path is ever longer than a name.
    fd = _open_dir(path, None)
    levels: list[tuple[str, list[str]]] = []
    name = ""
    todo: list[str] | None = None
    try:
        while True:
            if todo is None:  # just entered `fd`: clear its files, note its directories
                with contextlib.suppress(OSError):
                    os.fchmod(fd, 0o700)
                todo = []
                with os.scandir(fd) as it:
                    entries = list(it)
                for e in entries:
                    if e.is_dir(follow_symlinks=False):
                        todo.append(e.name)
                    else:
                        os.unlink(e.name, dir_fd=fd)
            if todo:
                child = todo.pop()
                new = _open_dir(child, fd)
                os.close(fd)
                levels.append((name, todo))
                fd, name, todo = new, child, None
                continue
            if not levels:
                break
            parent = os.open("..", _DIR_FLAGS, dir_fd=fd)
            os.close(fd)
            fd = parent
            os.rmdir(name, dir_fd=fd)
            name, todo = levels.pop()
    finally:
        os.close(fd)
    os.rmdir(path)
