"""Request validation worded as Lambda words it.

Model constraints (type, length, pattern, range, enum, required) are collected and raised together
as one ValidationException, as AWS does; semantic checks raise InvalidParameterValueException
directly where they are made.
"""

from __future__ import annotations

import re

from ..errors import LambdaError, validation

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

_MISSING = object()


def _camel(member: str) -> str:
    # AWS names the member in camelCase inside messages: FunctionName -> functionName.
    return ".".join(p[:1].lower() + p[1:] for p in member.split("."))


def _show(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}={v}" for k, v in value.items()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(str(v) for v in value) + "]"
    return str(value)


class Validator:
    """Reads members of one request, collecting every model-constraint failure."""

    def __init__(self, request: dict[str, Any] | None) -> None:
        if request is not None and not isinstance(request, dict):
            raise LambdaError("InvalidRequestContentException", "Could not parse request body into json")
        self.request = request or {}
        self.errors: list[str] = []

    def fail(self, member: str, value: Any, constraint: str, quote: bool = True) -> None:
        shown = f"'{_show(value)}'" if quote and value is not None else _show(value)
        self.errors.append(
            f"Value {shown} at '{_camel(member)}' failed to satisfy constraint: {constraint}"
        )

    def check(self) -> None:
        if self.errors:
            raise validation(self.errors)

    def _get(self, member: str, required: bool, source: dict[str, Any] | None) -> Any:
        src = self.request if source is None else source
        value = src.get(member.rsplit(".", 1)[-1], _MISSING)
        if value is _MISSING or value is None:
            if required:
                self.fail(member, None, "Member must not be null")
            return _MISSING
        return value

    def string(
        self,
        member: str,
        *,
        required: bool = False,
        min_len: int | None = None,
        max_len: int | None = None,
        pattern: re.Pattern[str] | None = None,
        enum: tuple[str, ...] | list[str] | None = None,
        source: dict[str, Any] | None = None,
    ) -> str | None:
        value = self._get(member, required, source)
        if value is _MISSING:
            return None
        if not isinstance(value, str):
            self.fail(member, value, "Member must be a string")
            return None
        if max_len is not None and len(value) > max_len:
            self.fail(member, value, f"Member must have length less than or equal to {max_len}")
        elif min_len is not None and len(value) < min_len:
            self.fail(member, value, f"Member must have length greater than or equal to {min_len}")
        elif pattern is not None and not pattern.fullmatch(value):
            self.fail(member, value, f"Member must satisfy regular expression pattern: {pattern.pattern}")
        elif enum is not None and value not in enum:
            self.fail(member, value, f"Member must satisfy enum value set: [{', '.join(enum)}]")
        return value

    def integer(
        self,
        member: str,
        *,
        required: bool = False,
        minimum: int | None = None,
        maximum: int | None = None,
        source: dict[str, Any] | None = None,
    ) -> int | None:
        value = self._get(member, required, source)
        if value is _MISSING:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
                value = int(value)
            else:
                self.fail(member, value, "Member must be an integer")
                return None
        if minimum is not None and value < minimum:
            self.fail(member, value, f"Member must have value greater than or equal to {minimum}")
        elif maximum is not None and value > maximum:
            self.fail(member, value, f"Member must have value less than or equal to {maximum}")
        return value

    def number(
        self,
        member: str,
        *,
        required: bool = False,
        minimum: float | None = None,
        maximum: float | None = None,
        source: dict[str, Any] | None = None,
    ) -> float | None:
        value = self._get(member, required, source)
        if value is _MISSING:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.fail(member, value, "Member must be a number")
            return None
        if minimum is not None and value < minimum:
            self.fail(member, value, f"Member must have value greater than or equal to {minimum}")
        elif maximum is not None and value > maximum:
            self.fail(member, value, f"Member must have value less than or equal to {maximum}")
        return float(value)

    def boolean(
        self, member: str, *, required: bool = False, source: dict[str, Any] | None = None
    ) -> bool | None:
        value = self._get(member, required, source)
        if value is _MISSING:
            return None
        if not isinstance(value, bool):
            self.fail(member, value, "Member must be a boolean")
            return None
        return value

    def structure(
        self, member: str, *, required: bool = False, source: dict[str, Any] | None = None
    ) -> dict[str, Any] | None:
        value = self._get(member, required, source)
        if value is _MISSING:
            return None
        if not isinstance(value, dict):
            self.fail(member, value, "Member must be a structure")
            return None
        return value

    def string_list(
        self,
        member: str,
        *,
        required: bool = False,
        min_items: int | None = None,
        max_items: int | None = None,
        item_enum: tuple[str, ...] | None = None,
        item_pattern: re.Pattern[str] | None = None,
        item_max_len: int | None = None,
        source: dict[str, Any] | None = None,
    ) -> list[str] | None:
        value = self._get(member, required, source)
        if value is _MISSING:
            return None
        if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
            self.fail(member, value, "Member must be a list of strings")
            return None
        if max_items is not None and len(value) > max_items:
            self.fail(member, value, f"Member must have length less than or equal to {max_items}")
        elif min_items is not None and len(value) < min_items:
            self.fail(member, value, f"Member must have length greater than or equal to {min_items}")
        else:
            for item in value:
                if item_enum is not None and item not in item_enum:
                    self.fail(
                        member,
                        value,
                        "Member must satisfy constraint: "
                        f"[Member must satisfy enum value set: [{', '.join(item_enum)}]]",
                    )
                    break
                if item_max_len is not None and len(item) > item_max_len:
                    self.fail(
                        member,
                        value,
                        "Member must satisfy constraint: "
                        f"[Member must have length less than or equal to {item_max_len}]",
                    )
                    break
                if item_pattern is not None and not item_pattern.fullmatch(item):
                    self.fail(
                        member,
                        value,
                        "Member must satisfy constraint: [Member must satisfy regular expression "
                        f"pattern: {item_pattern.pattern}]",
                    )
                    break
        return value

    def string_map(
        self,
        member: str,
        *,
        required: bool = False,
        key_pattern: re.Pattern[str] | None = None,
        source: dict[str, Any] | None = None,
    ) -> dict[str, str] | None:
        value = self._get(member, required, source)
        if value is _MISSING:
            return None
        if not isinstance(value, dict) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in value.items()
        ):
            self.fail(member, value, "Member must be a map of strings to strings")
            return None
        if key_pattern is not None:
            bad = [k for k in value if not key_pattern.fullmatch(k)]
            if bad:
                self.fail(
                    member,
                    value,
                    "Map keys must satisfy constraint: [Member must satisfy regular expression "
                    f"pattern: {key_pattern.pattern}]",
                )
        return value


# Deeper than any request of the API needs, and shallow enough that code walking a value
# recursively (error messages, encoders) stays far from the interpreter's recursion limit.
MAX_REQUEST_DEPTH = 64


# Far more members than any request of the API holds (a 70 MB CreateFunction is a few dozen);
# an input document past it is a mistake or a bomb.
MAX_REQUEST_NODES = 1_000_000


def expanded_size(doc: Any, limit: int = MAX_REQUEST_NODES) -> int:
    """How many values (containers, keys and scalars) `doc` holds as a tree, counting a container
    shared by several references (YAML aliases) once per reference, as any code that walks the
    document would; more than `limit` (or a cycle) gives `limit + 1` at once.

    Linear in the distinct objects: each container's size is computed once, by its id, so a few
    kilobytes of nested aliases that expand to billions of nodes are measured without walking them.
    """
    sizes: dict[int, int] = {}
    pending: set[int] = set()
    containers = (dict, list, tuple)
    stack: list[tuple[Any, list[Any] | None]] = [(doc, None)]
    while stack:
        node, inner = stack.pop()
        if not isinstance(node, containers):
            continue
        key = id(node)
        if inner is None:  # first visit: measure the containers inside first
            if key in sizes:
                continue
            if key in pending:  # a container inside itself: endless when expanded
                return limit + 1
            pending.add(key)
            inner = [child for child in (node.values() if isinstance(node, dict) else node)
                     if isinstance(child, containers)]
            stack.append((node, inner))
            stack.extend((child, None) for child in inner)
            continue
        # itself, its keys, its scalars (one each), and its containers' measured sizes
        total = 1 + len(node) * (2 if isinstance(node, dict) else 1) - len(inner)
        for child in inner:
            total += sizes[id(child)]
            if total > limit:
                return limit + 1
        if total > limit:
            return limit + 1
        pending.discard(key)
        sizes[key] = total
    return sizes.get(id(doc), 1)


def check_request(request: Any) -> None:
    """The service's door: every string of a request is text UTF-8 can carry, and no value is
    nested deeper than MAX_REQUEST_DEPTH.

    A lone surrogate (what Python makes of argv or file bytes that are not UTF-8, or a "\\ud800"
    escape in JSON text) cannot be stored by SQLite nor encoded in a response; refusing it here,
    before any operation runs, means no write ever stores one. Bytes (an invocation's Payload)
    are not looked into, so the invoke path pays one isinstance per member. Iterative, so a deep
    value cannot exhaust the stack while being checked.
    """
    stack: list[tuple[Any, str, int]] = [(request, "", 0)]
    while stack:
        value, path, depth = stack.pop()
        if isinstance(value, str):
            if not value.isascii():
                _check_text(value, path)
            continue
        if isinstance(value, dict):
            items: Any = value.items()
        elif isinstance(value, (list, tuple)):
            items = ((str(i), v) for i, v in enumerate(value))
        else:
            continue
        if depth >= MAX_REQUEST_DEPTH:
            raise LambdaError(
                "InvalidRequestContentException",
                f"Could not parse request body into json: nesting depth exceeds {MAX_REQUEST_DEPTH}"
                + (f" in '{_camel(path.split('.', 1)[0])}'" if path else ""),
            )
        for key, item in items:
            if isinstance(key, str) and not key.isascii():
                _check_text(key, path)
            stack.append((item, f"{path}.{key}" if path else str(key), depth + 1))


def _check_text(text: str, path: str) -> None:
    try:
        text.encode("utf-8")
    except UnicodeEncodeError as exc:
        char = ord(text[exc.start])
        # 0xDC80-0xDCFF is how Python carries a byte that was not UTF-8 (surrogateescape).
        what = (f"Invalid UTF-8 start byte 0x{char - 0xDC00:02x}" if 0xDC80 <= char <= 0xDCFF
                else f"Unpaired surrogate \\u{char:04x}")
        where = f" at '{_camel(path)}'" if path else ""
        raise LambdaError(
            "InvalidRequestContentException", f"Could not parse request body into json: {what}{where}"
        ) from None
