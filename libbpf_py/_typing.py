"""What the package needs of ``typing`` at run time, without importing it (~4 ms with the ``re``
it imports): a module reads its annotations' names from ``typing`` only under ``TYPE_CHECKING``,
and these stand-ins for the few names that run.

``class X(NamedTuple)`` with annotated fields (and trailing defaults) makes the same class as
``typing.NamedTuple`` does: a ``collections.namedtuple`` with the body's methods, properties
and docstring. ``Generic[...]`` and ``X[...]`` of a generic class give back the class itself,
``TypeVar`` and ``Protocol`` are placeholders.
"""

from __future__ import annotations

import collections

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Dict, Tuple

_NOT_COPIED = ("__module__", "__qualname__", "__annotations__", "__dict__", "__weakref__")


_PROHIBITED = frozenset(("__new__", "__init__", "__slots__", "__getnewargs__", "_fields", "_field_defaults",
                         "_make", "_replace", "_asdict", "_source"))  # as typing refuses them


class _NamedTupleMeta(type):
    def __new__(mcls, name: str, bases: Tuple[type, ...], namespace: Dict[str, Any]) -> Any:
        annotations = dict(namespace.get("__annotations__", {}))
        fields = list(annotations)
        defaults = [namespace[field] for field in fields if field in namespace]
        for field in fields[len(fields) - len(defaults):]:
            if field not in namespace:
                raise TypeError(f"Non-default namedtuple field {field} cannot follow default field")
        for key in namespace:
            if key in _PROHIBITED:
                raise AttributeError(f"Cannot overwrite NamedTuple attribute {key}")
        record: Any = collections.namedtuple(name, fields, defaults=defaults or None,  # type: ignore[misc]
                                             module=namespace.get("__module__"))
        for key, value in namespace.items():
            if key not in fields and key not in _NOT_COPIED:
                setattr(record, key, value)
        record.__qualname__ = namespace.get("__qualname__", name)
        record.__annotations__ = record.__new__.__annotations__ = annotations
        return record


def NamedTuple(typename: str, fields: Any = None) -> Any:  # noqa: N802  (as typing names it)
    """Only the class syntax is supported: ``class X(NamedTuple): ...``."""
    raise TypeError("use the class syntax: class X(NamedTuple): ...")


_NamedTupleBase = type.__new__(_NamedTupleMeta, "NamedTuple", (), {})
NamedTuple.__mro_entries__ = lambda bases: (_NamedTupleBase,)  # type: ignore[attr-defined]


class Generic:
    """``class C(Generic[T])``; ``C[X]`` is ``C``."""

    __slots__ = ()

    def __class_getitem__(cls, item: Any) -> Any:
        return cls


class Protocol:
    """A structural type for the type checker; at run time a plain base class."""

    __slots__ = ()


def TypeVar(name: str, *constraints: Any, **options: Any) -> str:  # noqa: N802  (as typing names it)
    return name
