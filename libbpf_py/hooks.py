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
    """Subclass and override either method; both do nothing here.

    - ``opened(obj)``: after libbpf opened the object, before the caller gets it: set program
      types, autoload, map definitions (edits made here are the caller's defaults).
    - ``loaded(obj)``: after libbpf loaded the object and before pins are committed: fill prog
      arrays, outer maps. Raising here undoes the load's pins and leaves the object unusable.
    - ``rolled_back(obj)``: the load is being undone after ``loaded`` ran (or raised): a later
      hook failed, the pins could not be committed, or a signal (Ctrl-C) arrived. Put back what
      ``loaded`` changed in maps that outlive the load (e.g. pinned ones it reused).
    - ``committed(obj)``: the load stands; drop what was kept to undo it.

    The Object holds its hooks: a hook that keeps the Object itself (rather than using it during
    the call) makes a reference cycle, and the Object's fds then wait for the garbage collector.
    """

    def opened(self, obj: HookedObject) -> None:
        """After open, before anyone else sees the object."""

    def loaded(self, obj: HookedObject) -> None:
        """After a successful load, before the load's pins are committed."""

    def rolled_back(self, obj: HookedObject) -> None:
        """The load is undone after ``loaded`` ran: undo its changes to maps that outlive it."""

    def committed(self, obj: HookedObject) -> None:
        """The load stands: release what ``loaded`` kept for an undo."""
