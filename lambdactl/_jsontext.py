"""JSON text in and out, with every failure a ValueError and every value encodable.

The standard parser raises RecursionError (not ValueError) for a document nested deeper than the
interpreter's stack, which callers that catch ValueError would turn into a traceback or a 500;
and a string holding a lone surrogate (a row stored before such strings were refused) makes the
fast encoders fail. Both belong to the faces and to the service alike, so they live here once.
"""

from __future__ import annotations

import json
import math

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any


def loads(data: str | bytes | bytearray) -> Any:
    """json.loads, raising ValueError (never RecursionError) for any text that is not JSON, and
    naming a byte that is not UTF-8 the way Lambda's parser does."""
    try:
        return json.loads(data)
    except RecursionError:
        raise ValueError("JSON nested too deeply") from None
    except UnicodeDecodeError as exc:
        raw = exc.object
        if "start" in exc.reason:
            raise ValueError(f"Invalid UTF-8 start byte 0x{raw[exc.start]:02x}") from None
        if "continuation" in exc.reason and exc.end < len(raw):  # the byte that broke the sequence
            raise ValueError(f"Invalid UTF-8 middle byte 0x{raw[exc.end]:02x}") from None
        raise ValueError("Invalid UTF-8: unexpected end of input") from None


def dumps_ascii(obj: Any) -> bytes:
    """Compact JSON that any value can become: a lone surrogate is written as its \\u escape,
    an integer of any size as its digits; non-finite floats as null, as orjson writes them."""
    try:
        return json.dumps(obj, separators=(",", ":"), allow_nan=False).encode("ascii")
    except ValueError:
        return json.dumps(_finite(obj), separators=(",", ":")).encode("ascii")


def _finite(obj: Any) -> Any:
    if isinstance(obj, float) and not math.isfinite(obj):
        return None
    if isinstance(obj, dict):
        return {k: _finite(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_finite(v) for v in obj]
    return obj
