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

import queue
import threading
import time
from typing import Any, TextIO

from ..httpwire import BadRequest, parse_head
from . import function_urls
from .rest import parse_target

# Operation column for requests that are no Lambda API operation.
NO_OPERATION = "-"
FUNCTION_URL = "FunctionUrl"
LOCAL = "lambdactl"
BATCH_S = 0.02


class AccessLog:
    def __init__(self, stream: TextIO, router: Any) -> None:
        self._stream = stream
        self._router = router
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
