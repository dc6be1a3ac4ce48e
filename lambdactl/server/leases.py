"""Concurrency leases for a busy server: registry leases kept between invocations.

Every invocation holds a registry lease (so the CLI and other processes see the server's
concurrency), but a warm server would otherwise write two transactions per invoke just to take
and give back the same lease. A lease given back here is kept for `idle_s` and handed to the next
invocation of the same function, so a steady stream costs no registry write at all; leases unused
for longer go back to the registry. Others may thus see the server's recent peak for up to
`idle_s`, which errs on the safe side of a limit.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any


class LeaseCache:
    def __init__(self, make_service: Callable[[], Any], idle_s: float = 1.0) -> None:
        self._make_service = make_service
        self.idle_s = idle_s
        self._lock = threading.Lock()
        self._spare: dict[str, list[tuple[str, float]]] = {}
        self._stop = threading.Event()
        self._svc: Any = None
        self._thread = threading.Thread(target=self._loop, name="lease-keeper", daemon=True)
        self._thread.start()

    def acquire(self, svc: Any, function: str) -> str:
        with self._lock:
            spare = self._spare.get(function)
            if spare:
                return spare.pop()[0]
        from ..service.concurrency import acquire_lease

        return acquire_lease(svc, function)

    def release(self, svc: Any, function: str, lease_id: str) -> None:
        with self._lock:
            if not self._stop.is_set():
                self._spare.setdefault(function, []).append((lease_id, time.monotonic()))
                return
        from ..service.concurrency import release_lease

        release_lease(svc, lease_id)

    def forget(self, function: str) -> None:
        """Give a function's spare leases back now (its concurrency settings changed)."""
        with self._lock:
            gone = self._spare.pop(function, [])
        self._give_back([lease for lease, _ in gone])

    def _give_back(self, lease_ids: list[str]) -> None:
        if not lease_ids:
            return
        from ..service.concurrency import release_lease

        if self._svc is None:
            self._svc = self._make_service()
        for lease_id in lease_ids:
            release_lease(self._svc, lease_id)

    def _loop(self) -> None:
        while not self._stop.wait(self.idle_s / 2):
            now = time.monotonic()
            expired: list[str] = []
            with self._lock:
                for function in list(self._spare):
                    keep = [(lid, t) for lid, t in self._spare[function] if now - t < self.idle_s]
                    expired += [lid for lid, t in self._spare[function] if now - t >= self.idle_s]
                    if keep:
                        self._spare[function] = keep
                    else:
                        del self._spare[function]
            try:
                self._give_back(expired)
            except Exception:  # noqa: BLE001 - a stale lease is reclaimed by its owner's death anyway
                pass

    def close(self) -> None:
        self._stop.set()
        with self._lock:
            gone = [lid for spare in self._spare.values() for lid, _ in spare]
            self._spare.clear()
        try:
            self._give_back(gone)
        except Exception:  # noqa: BLE001
            pass
