"""A small stand-in for `dataclasses` on the CLI's invoke path.

`import dataclasses` pulls in `inspect` (~11 ms together), and a one-shot `lambdactl invoke`
pays every millisecond of its imports. This supports what the engine uses: `@dataclass` and
`@dataclass(frozen=True)` with defaults, `field(default=...)` / `field(default_factory=...)`,
`replace()`, and value `__eq__` / `__repr__`. Annotations may be strings (postponed evaluation);
only their names are read.
"""

from __future__ import annotations

from collections.abc import Callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, TypeVar

    T = TypeVar("T")
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
        for name in klass.__dict__.get("__annotations__", {}):
            if name not in names and not str(klass.__dict__["__annotations__"][name]).startswith("ClassVar"):
                names.append(name)
    return names


def _process(cls: type, frozen: bool) -> type:
    names = _fields(cls)
    defaults: dict[str, Any] = {}
    factories: dict[str, Callable[[], Any]] = {}
    for name in names:
        value = getattr(cls, name, _MISSING)
        if isinstance(value, _Field):
            if value.default_factory is not _MISSING:
                factories[name] = value.default_factory
            elif value.default is not _MISSING:
                defaults[name] = value.default
            delattr(cls, name) if name in cls.__dict__ else None
        elif value is not _MISSING:
            defaults[name] = value
    params, body = [], []
    namespace: dict[str, Any] = {"_MISSING": _MISSING, "_set": object.__setattr__}
    for name in names:
        if name in factories:
            namespace[f"_f_{name}"] = factories[name]
            params.append(f"{name}=_MISSING")
            body.append(f"_set(self, {name!r}, _f_{name}() if {name} is _MISSING else {name})")
        elif name in defaults:
            namespace[f"_d_{name}"] = defaults[name]
            params.append(f"{name}=_d_{name}")
            body.append(f"_set(self, {name!r}, {name})")
        else:
            params.append(name)
            body.append(f"_set(self, {name!r}, {name})")
    post = "__post_init__" in cls.__dict__ or any("__post_init__" in k.__dict__ for k in cls.__mro__[1:])
    if post:
        body.append("self.__post_init__()")
    source = f"def __init__(self, {', '.join(params)}):\n    " + "\n    ".join(body or ["pass"])
    exec(source, namespace)  # noqa: S102 - generated from the class's own field names
    cls.__init__ = namespace["__init__"]  # type: ignore[misc]
    cls.__record_fields__ = tuple(names)  # type: ignore[attr-defined]

    def __repr__(self: Any) -> str:
        inner = ", ".join(f"{n}={getattr(self, n)!r}" for n in names)
        return f"{type(self).__name__}({inner})"

    def __eq__(self: Any, other: Any) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in names)

    cls.__repr__ = __repr__  # type: ignore[method-assign]
    cls.__eq__ = __eq__  # type: ignore[method-assign]
    if frozen:
        def __setattr__(self: Any, name: str, value: Any) -> None:
            raise FrozenInstanceError(f"cannot assign to field {name!r}")

        def __hash__(self: Any) -> int:
            return hash(tuple(getattr(self, n) for n in names))

        cls.__setattr__ = __setattr__  # type: ignore[method-assign]
        cls.__delattr__ = __setattr__  # type: ignore[assignment]
        cls.__hash__ = __hash__  # type: ignore[method-assign]
    else:
        cls.__hash__ = None  # type: ignore[assignment]
    return cls


def dataclass(cls: type[T] | None = None, *, frozen: bool = False) -> Any:
    if cls is None:
        return lambda c: _process(c, frozen)
    return _process(cls, frozen)


def replace(obj: T, **changes: Any) -> T:
    values = {n: getattr(obj, n) for n in obj.__record_fields__}  # type: ignore[attr-defined]
    values.update(changes)
    return type(obj)(**values)
