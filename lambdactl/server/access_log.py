"""The access log of `lambdactl serve`: one line per request, such as
`POST /2015-03-31/functions/f/invocations Invoke 200 3.1ms`.

Why a writer thread: the worker that answered a request only queues what it already holds (the
head's bytes, the answer's status digits, the duration); this thread parses, routes and formats,
and writes whatever has queued in one write and one flush. It gathers for BATCH_S after the first
line of a batch, so a stream of requests wakes it ~50 times a second instead of once per request
(woken per request it cost a warm invoke ~50 us at p50), and a line still appears within BATCH_S.
Must not know: Lambda's rules; it names operations with the server's router.
"""

from __future__ import annotations

import os
import queue
import stat
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TextIO

from ..httpwire import BadRequest, parse_head
from ..protocol.rest_json import parse_target
from . import function_urls

# Operation column for requests that are no Lambda API operation.
NO_OPERATION = "-"
FUNCTION_URL = "FunctionUrl"
LOCAL = "lambdactl"
BATCH_S = 0.02


class AccessLog:
    """`after_write`, if given, runs after each batch is written (the log file's rotation)."""

    def __init__(self, stream: TextIO, router: Any, after_write: Callable[[], None] | None = None) -> None:
        self._stream = stream
        self._router = router
        self._after_write = after_write
        self._queue: queue.SimpleQueue[tuple[bytes, bytes, float] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._run, name="access-log", daemon=True)
        self._thread.start()

    def record(self, head: bytes, answer: bytes, seconds: float) -> None:
        """Queue one request's line; `answer` is the response as sent (its status is bytes 9-12)."""
        self._queue.put((head, answer[9:12], seconds))

    def close(self, timeout: float = 5.0) -> None:
        """Write what is queued, then stop the thread."""
        self._queue.put(None)
        self._thread.join(timeout)

    def _run(self) -> None:
        while True:
            item = self._queue.get()
            if item is not None:
                time.sleep(BATCH_S)
            lines = []
            done = False
            while True:
                if item is None:
                    done = True
                else:
                    lines.append(self.line(*item))
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
            if lines:
                try:
                    self._stream.write("".join(lines))
                    self._stream.flush()
                    if self._after_write is not None:
                        self._after_write()
                except (OSError, ValueError):
                    pass  # a closed or broken log must not stop the server
            if done:
                return

    def line(self, head: bytes, status: bytes, seconds: float) -> str:
        method, path, op = self._describe(head)
        return f"{method} {path} {op} {status.decode('latin-1')} {seconds * 1000:.1f}ms\n"

    def _describe(self, head: bytes) -> tuple[str, str, str]:
        """Method, path (without the query, which may carry a function URL's secrets) and operation."""
        try:
            req = parse_head(head)
        except BadRequest:
            first = head.split(b"\r\n", 1)[0].decode("latin-1").split(" ")
            method = first[0] if first[0].isalpha() else "-"
            path = first[1].partition("?")[0] if len(first) > 1 else "-"
            return method, path if path.isprintable() else ascii(path), NO_OPERATION
        path, query = parse_target(req.target)
        if function_urls.match(req) is not None:
            return req.method, path, FUNCTION_URL
        if path.startswith("/lambdactl/"):
            return req.method, path, LOCAL
        matched = self._router.match(req.method, path, query)
        return req.method, path, matched[0].op if matched is not None else NO_OPERATION


def rotator(path: Path, max_bytes: int) -> Callable[[], None]:
    """Keep the log file that this process's stdout and stderr write to (a detached server's
    server.log) under `max_bytes`: past it the file becomes NAME.1 (replacing the older one) and
    both descriptors move to a fresh file. A log on a terminal or a pipe is left alone."""
    from ..settings import open_private

    def rotate() -> None:
        st = os.fstat(2)
        if st.st_size < max_bytes or not stat.S_ISREG(st.st_mode):
            return
        try:
            on_disk = os.stat(path)
        except FileNotFoundError:
            return
        if (on_disk.st_dev, on_disk.st_ino) != (st.st_dev, st.st_ino):
            return  # stderr is some other file: not ours to rotate
        os.replace(path, path.with_name(path.name + ".1"))
        fd = open_private(path, os.O_WRONLY | os.O_APPEND)
        try:
            os.dup2(fd, 1)
            os.dup2(fd, 2)
        finally:
            os.close(fd)

    return rotate
