"""Plug-in points of an :class:`~libbpf_py.Object`: code that runs after open and after load.

The iproute2 shim is such a plug-in (program types and the load set after open; map-in-map
and tail-call wiring after load); an application may add its own with
``Object.open(src, hooks=[...])``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, FrozenSet, Mapping, Protocol

if TYPE_CHECKING:
    from .maps import Map
    from .programs import Program


class HookedObject(Protocol):
    """What a hook sees of the Object it runs on."""

    @property
    def name(self) -> str: ...

    @property
    def maps(self) -> Mapping[str, Map]: ...

    @property
    def programs(self) -> Mapping[str, Program]: ...

    @property
    def reused_maps(self) -> FrozenSet[str]: ...


class ObjectHooks:
    """Code that runs at four points of an object's life: subclass and override any of the
    methods (each does nothing here). The Object holds its hooks: one that keeps the Object
    itself makes a reference cycle, and the Object's fds then wait for the garbage collector."""

    def opened(self, obj: HookedObject) -> None:
        """After open, before anyone else sees the object: set program types, autoload, map
        definitions (edits made here are the caller's defaults)."""

    def loaded(self, obj: HookedObject) -> None:
        """After a successful load, before its pins are committed: fill prog arrays, outer maps.
        Raising here undoes the load's pins and leaves the object unusable."""

    def rolled_back(self, obj: HookedObject) -> None:
        """The load is undone after ``loaded`` ran (a later hook failed, the pins could not be
        committed, a signal arrived): put back what it changed in maps that outlive the load."""

    def committed(self, obj: HookedObject) -> None:
        """The load stands: release what ``loaded`` kept for an undo."""
