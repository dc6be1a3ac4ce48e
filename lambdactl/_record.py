"""lambdactl's record classes: a small `dataclasses` that type checkers read as the real one.

`import dataclasses` pulls in `inspect` (~7 ms together) and its per-class work is slower: with
`dataclasses.dataclass(slots=True)` in its place, importing what a one-shot `lambdactl invoke`
runs took ~15 ms more (fastest of 80 runs), and that command pays every millisecond. This
supports what the code base uses: `@dataclass`, with `frozen`, `slots`, `eq` and `repr`, defaults,
`field(default=...)` / `field(default_factory=...)`, `__post_init__`, `replace()`, value
`__eq__` / `__repr__`. `dataclass_transform` tells type checkers that a decorated class gets the
`__init__` its fields imply. Annotations may be strings (postponed evaluation); only their names
are read.
"""

from __future__ import annotations

from collections.abc import Callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeVar, dataclass_transform

    T = TypeVar("T")
else:
    def dataclass_transform(**_: object) -> Callable[[T], T]:
        """typing's marker, which only type checkers read: importing typing costs the CLI ~5 ms."""
        return lambda decorated: decorated

_MISSING: Any = object()


class _Field:
    __slots__ = ("default", "default_factory")

    def __init__(self, default: Any, default_factory: Any) -> None:
        self.default = default
        self.default_factory = default_factory


def field(*, default: Any = _MISSING, default_factory: Callable[[], Any] | Any = _MISSING) -> Any:
    return _Field(default, default_factory)


class FrozenInstanceError(AttributeError):
    pass


def _fields(cls: type) -> list[str]:
    names: list[str] = []
    for klass in reversed(cls.__mro__):
        annotations = klass.__dict__.get("__annotations__", {})
        for name in annotations:
            if name not in names and not str(annotations[name]).startswith("ClassVar"):
                names.append(name)
    return names


def _init_source(names: list[str], cls: type, namespace: dict[str, Any]) -> str:
    """The source of `__init__`, collecting each field's default or factory into `namespace`
    (and taking the `field()` markers off the class)."""
    params, body = [], []
    for name in names:
        value = getattr(cls, name, _MISSING)
        if isinstance(value, _Field):
            if name in cls.__dict__:
                delattr(cls, name)
            if value.default_factory is not _MISSING:
                namespace[f"_f_{name}"] = value.default_factory
                params.append(f"{name}=_MISSING")
                body.append(f"_set(self, {name!r}, _f_{name}() if {name} is _MISSING else {name})")
                continue
            value = value.default
        if value is _MISSING:
            params.append(name)
        else:
            namespace[f"_d_{name}"] = value
            params.append(f"{name}=_d_{name}")
        body.append(f"_set(self, {name!r}, {name})")
    if any("__post_init__" in k.__dict__ for k in cls.__mro__):
        body.append("self.__post_init__()")
    return f"def __init__(self, {', '.join(params)}):\n    " + "\n    ".join(body or ["pass"])


def _with_slots(cls: type, names: list[str]) -> type:
    """The class made again with `__slots__` for its own fields: slots cannot be added to a
    class that exists (its defaults are in the generated `__init__` by now)."""
    body = {k: v for k, v in cls.__dict__.items() if k not in names and k not in ("__dict__", "__weakref__")}
    inherited = {n for k in cls.__mro__[1:] for n in getattr(k, "__slots__", ())}
    body["__slots__"] = tuple(n for n in names if n not in inherited)
    return type(cls)(cls.__name__, cls.__bases__, body)


def _process(cls: type, frozen: bool, slots: bool, eq: bool, repr: bool) -> type:
    names = _fields(cls)
    namespace: dict[str, Any] = {"_MISSING": _MISSING, "_set": object.__setattr__}
    exec(_init_source(names, cls, namespace), namespace)  # noqa: S102 - from the class's own field names

    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{type(self).__name__}({inner})"

    def __eq__(self: Any, other: Any) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in names)

    def __setattr__(self: Any, name: str, value: Any) -> None:
        raise FrozenInstanceError(f"cannot assign to field {name!r}")

    def __hash__(self: Any) -> int:
        return hash(tuple(getattr(self, n) for n in names))

    members: dict[str, Any] = {"__init__": namespace["__init__"], "__record_fields__": tuple(names)}
    if repr:
        members["__repr__"] = __repr__
    if eq:
        # As dataclasses: equal values hash alike only when they cannot change.
        members.update(__eq__=__eq__, __hash__=__hash__ if frozen else None)
    if frozen:
        members.update(__setattr__=__setattr__, __delattr__=__setattr__)
    for name, value in members.items():
        setattr(cls, name, value)
    return _with_slots(cls, names) if slots else cls


@dataclass_transform(field_specifiers=(field,))
def dataclass(cls: type[T] | None = None, *, frozen: bool = False, slots: bool = False,
              eq: bool = True, repr: bool = True) -> Any:
    """`eq=False` keeps identity comparison and hashing, `repr=False` object's repr: both for
    records that link to each other, whose generated ones would recurse."""
    if cls is None:
        return lambda c: _process(c, frozen, slots, eq, repr)
    return _process(cls, frozen, slots, eq, repr)


def replace(obj: T, **changes: Any) -> T:
    record: Any = obj
    values = {n: getattr(record, n) for n in record.__record_fields__}
    values.update(changes)
    return type(obj)(**values)
