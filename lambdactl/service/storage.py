"""Keeping the home bounded: collecting what nothing references any more.

`collect_garbage` runs when `lambdactl serve` starts and on `lambdactl doctor --gc`: code and
layer blobs no version or layer version references, files half-written by processes that died,
invocation rows past their age, log groups over a lowered cap, and (on request) extracted code
trees of collected blobs that no live environment uses. Blobs are collected under the registry's
write lock, the lock every writer holds between storing a blob and committing the row that
references it, so a blob a concurrent writer is about to reference is never removed.
"""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from . import Service


DEFAULT_MIN_FREE_MB = 1024


def code_storage_used(svc: Service) -> int:
    """Bytes of function and layer code counted against the quota: the running total the
    registry's triggers keep, one row, never a sum over the versions."""
    row = svc.conn.execute("SELECT bytes FROM code_storage WHERE id = 0").fetchone()
    return int(row[0]) if row else 0


def check_code_storage(svc: Service, size: int) -> None:
    """Refuse an upload of `size` bytes (function code or a layer; the caller holds the write
    transaction) that would pass the account's code storage quota or leave less than
    `[storage] min_free_mb` free on the home's file system: a function's own credentials reach
    these operations, so without this it could fill the host's disk."""
    import shutil

    from .. import limits
    from ..errors import LambdaError

    what_to_do = ("Delete function versions or layer versions you no longer need "
                  "(delete-function --qualifier, delete-layer-version), then run `lambdactl doctor --gc`.")
    used = code_storage_used(svc)
    if used + size > limits.MAX_CODE_STORAGE_BYTES:
        raise LambdaError(
            "CodeStorageExceededException",
            f"Code storage limit exceeded. Function and layer code uses {used} bytes of "
            f"{limits.MAX_CODE_STORAGE_BYTES}; this upload of {size} bytes would pass it. {what_to_do}",
        )
    reserve_mb = svc.settings.get("storage.min_free_mb", DEFAULT_MIN_FREE_MB)
    free = shutil.disk_usage(svc.settings.home).free
    if free - size < reserve_mb * 1024 * 1024:
        raise LambdaError(
            "CodeStorageExceededException",
            f"Code storage limit exceeded. This upload of {size} bytes would leave less than the "
            f"{reserve_mb} MiB of free disk space that config.toml's [storage] min_free_mb keeps on "
            f"the file system of the lambdactl home ({free // (1024 * 1024)} MiB free now). "
            f"Free disk space or lower min_free_mb. {what_to_do}",
        )


def collect_garbage(svc: Service, *, cache_trees: bool = False) -> dict[str, Any]:
    """Remove what nothing needs and say what went: {"removed": [{"path", "bytes"}],
    "bytes_freed", "log_bytes_trimmed", "invocations_trimmed"} (paths relative to the home)."""
    from ..registry import blobs
    from ..registry.db import write_transaction
    from .functions import collect_code_blobs
    from .layers import collect_layer_blobs
    from .logs import enforce_log_caps, trim_invocations

    settings = svc.settings
    removed: list[tuple[str, int]] = []
    with write_transaction(svc.conn):
        removed += blobs.sweep_partial(settings.home)  # config.toml, server.json, ...
        for directory, collect in ((settings.code_dir, collect_code_blobs), (settings.layers_dir, collect_layer_blobs)):
            kind = directory.name
            removed += [(f"{kind}/{name}", size) for name, size in blobs.sweep_partial(directory)]
            gone = collect(svc, set(blobs.stored(directory)))
            removed += [(f"{kind}/{sha}.zip", size) for sha, size in sorted(gone.items())]
        if cache_trees:
            from ..runtime.codecache import collect_trees

            for kind, directory in (("code", settings.code_dir), ("layers", settings.layers_dir)):
                trees = collect_trees(settings.cache_dir / kind, set(blobs.stored(directory)))
                removed += [(f"cache/{kind}/{name}", size) for name, size in sorted(trees)]
    log_bytes = enforce_log_caps(svc)
    rows = trim_invocations(svc)
    return {
        "removed": [{"path": path, "bytes": size} for path, size in removed],
        "bytes_freed": sum(size for _, size in removed),
        "log_bytes_trimmed": log_bytes,
        "invocations_trimmed": rows,
    }


def at_serve_start(svc: Service) -> None:
    """The server's start-up sweep: like `doctor --gc` but for extracted trees, and reported
    on stderr only when it removed something."""
    import sys

    try:
        report = collect_garbage(svc)
    except Exception as exc:  # noqa: BLE001 - a failed sweep must not keep the server from serving
        print(f"lambdactl serve: storage sweep failed: {exc}", file=sys.stderr)
        return
    finally:
        svc.close()
    if report["removed"] or report["log_bytes_trimmed"] or report["invocations_trimmed"]:
        print(f"lambdactl serve: removed {len(report['removed'])} unreferenced or partial files "
              f"({report['bytes_freed']} bytes), {report['log_bytes_trimmed']} bytes of logs over "
              f"their caps and {report['invocations_trimmed']} invocation rows past their age",
              file=sys.stderr)
