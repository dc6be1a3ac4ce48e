"""Helpers shared by the per-qualifier configurations: provisioned concurrency, event invoke
and URL configs.

Their lists hold one item per qualifier of one function, so they are sorted in memory the way
Lambda lists qualifiers ($LATEST, then versions by number, then aliases by name) and cut into
pages after the qualifier named by the marker. The marker is opaque to callers.
"""

from __future__ import annotations

from collections.abc import Sequence

from .. import limits
from ..errors import LambdaError, invalid, not_found
from ._validate import Validator
from .functions import resolve_version

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeVar

    T = TypeVar("T")

    from . import Service


def require_target(svc: Service, name: str, qualifier: str, message: str | None = None) -> None:
    """The function and its version or alias must exist.

    Each operation words the miss its own way: `message` replaces the not-found text (None keeps
    resolve_version's `Function not found: <arn>`).
    """
    try:
        resolve_version(svc, name, qualifier)
    except LambdaError as exc:
        if exc.code != "ResourceNotFoundException" or message is None:
            raise
        raise not_found(message) from None


def qualifier_order(qualifier: str) -> tuple[int, int, str]:
    if qualifier == "$LATEST":
        return (0, 0, "")
    if qualifier.isdigit():
        return (1, int(qualifier), "")
    return (2, 0, qualifier)


def list_options(v: Validator) -> tuple[str | None, int]:
    """Read Marker and MaxItems (1-50) of a small list request; the caller runs `v.check()`."""
    marker = v.string("Marker")
    max_items = v.integer("MaxItems", minimum=1, maximum=limits.MAX_SMALL_LIST_ITEMS)
    return marker, max_items or limits.MAX_SMALL_LIST_ITEMS


def page(items: Sequence[tuple[str, T]], marker: str | None, max_items: int) -> tuple[list[T], str | None]:
    """(qualifier, item) pairs -> (the items of this page, the marker of the next page or None)."""
    ordered = sorted(items, key=lambda pair: qualifier_order(pair[0]))
    start = 0
    if marker is not None:
        after = _decode(marker)
        start = next(
            (i for i, (q, _) in enumerate(ordered) if qualifier_order(q) > qualifier_order(after)),
            len(ordered),
        )
    chunk = ordered[start : start + max_items]
    more = start + max_items < len(ordered)
    return [item for _, item in chunk], (_encode(chunk[-1][0]) if more and chunk else None)


def _encode(qualifier: str) -> str:
    import base64

    return base64.urlsafe_b64encode(qualifier.encode()).decode()


def _decode(marker: Any) -> str:
    import base64

    try:
        return base64.urlsafe_b64decode(str(marker).encode()).decode()
    except (ValueError, UnicodeDecodeError):
        raise invalid(f"Invalid marker: {marker}") from None
