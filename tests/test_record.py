"""The dataclasses stand-in used on the invoke path behaves like dataclasses where it matters."""

from __future__ import annotations

import pytest

from lambdactl._record import FrozenInstanceError, dataclass, field, replace


@dataclass(frozen=True)
class Spec:
    name: str
    size: int = 3
    tags: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        if self.size < 0:
            raise ValueError("size")


@dataclass
class Box:
    value: int
    note: str = field(default="n")


def test_defaults_factories_and_post_init() -> None:
    a, b = Spec("a"), Spec("b")
    assert (a.size, a.tags) == (3, [])
    a.tags.append("x")
    assert b.tags == []  # a fresh list each time
    with pytest.raises(ValueError):
        Spec("c", -1)
    with pytest.raises(TypeError):
        Spec()  # type: ignore[call-arg]


def test_frozen_eq_repr_replace() -> None:
    a = Spec("a", 5)
    with pytest.raises(FrozenInstanceError):
        a.size = 6  # type: ignore[misc]
    assert a == Spec("a", 5) and a != Spec("a", 6)
    assert repr(a) == "Spec(name='a', size=5, tags=[])"
    b = replace(a, size=7)
    assert (b.name, b.size) == ("a", 7) and a.size == 5
    box = Box(1)
    box.value = 2
    assert box == Box(2, "n") and box.note == "n"


@dataclass(slots=True)
class Slotted:
    value: int
    derived: int = 0

    def __post_init__(self) -> None:
        self.derived = self.value * 2


@dataclass(slots=True, eq=False, repr=False)
class Node:
    parent: Node | None
    children: list[Node] = field(default_factory=list)


def test_slots_keep_defaults_and_post_init() -> None:
    s = Slotted(2)
    assert (s.value, s.derived) == (2, 4) and Slotted.__slots__ == ("value", "derived")
    assert not hasattr(s, "__dict__")
    with pytest.raises(AttributeError):
        s.other = 1  # type: ignore[attr-defined]


def test_linked_records_compare_by_identity() -> None:
    root = Node(None)
    child = Node(root)
    root.children.append(child)
    assert child != Node(root) and {root, child}  # hashable, no recursive __eq__
    assert "Node object at" in repr(child)  # no recursive __repr__
