"""A map's shape as plain data, and whether one live map can serve as another's definition.

``MapSpec`` is what a definition asks for (or what a live map has); ``spec.differences(live)``
lists every field in which a live map cannot serve as that definition, which is how a
pinned map is checked before it is reused (cilium/ebpf's ``MapSpec.Compatible`` is the model).
"""

from __future__ import annotations

from typing import Dict, List, NamedTuple

from . import _abi
from ._abi import MapType, enum_or_int

# The kernel sets BPF_F_RDONLY_PROG on device maps whatever was asked (libbpf >= 1.7 masks it too).
_KERNEL_ADDED_FLAGS: Dict[int, int] = {MapType.DEVMAP: _abi.BPF_F_RDONLY_PROG,
                                       MapType.DEVMAP_HASH: _abi.BPF_F_RDONLY_PROG}
_COMPARED = ("type", "key_size", "value_size", "max_entries", "flags", "map_extra")
_LABELS = {"flags": "map_flags"}  # the kernel's (and iproute2's) name for the field


class Difference(NamedTuple):
    """One field in which a live (pinned) map differs from a definition."""

    field: str
    object: int
    pinned: int

    def __str__(self) -> str:
        if self.field.endswith("map_flags"):
            return f"{self.field}: object {self.object:#x}, pinned {self.pinned:#x}"
        if self.field.endswith("type"):
            return f"{self.field}: object {_type_name(self.object)}, pinned {_type_name(self.pinned)}"
        return f"{self.field}: object {self.object}, pinned {self.pinned}"


def _type_name(value: int) -> str:
    known = enum_or_int(MapType, value)
    return known.name if isinstance(known, MapType) else str(value)


class MapSpec(NamedTuple):
    """A map's shape: what a definition asks for, or what a live map has.

    ``inner`` is the shape of a map-in-map's inner maps (None when unknown, e.g. for a
    pinned outer map that holds no inner map yet).
    """

    type: MapType | int  # (annotations readable by typing.get_type_hints without typing's names)
    key_size: int
    value_size: int
    max_entries: int
    flags: int
    map_extra: int = 0
    inner: MapSpec | None = None

    def differences(self, live: MapSpec) -> List[Difference]:
        """Every field in which ``live`` cannot serve as this definition (empty: compatible).

        The flag the kernel adds to device maps is ignored; for map-in-map, inner shapes
        are compared as the kernel compares a map put into an outer map, when both are known.
        """
        found = []
        for field in _COMPARED:
            ours, theirs = int(getattr(self, field)), int(getattr(live, field))
            if field == "flags":
                mask = ~_KERNEL_ADDED_FLAGS.get(int(self.type), 0)
                ours, theirs = ours & mask, theirs & mask
            if ours != theirs:
                found.append(Difference(_LABELS.get(field, field), ours, theirs))
        if self.inner is not None and live.inner is not None:
            found += self.inner.inner_differences(live.inner)
        return found

    def inner_differences(self, live: MapSpec) -> List[Difference]:
        """What the kernel requires of every map put into a map-in-map (bpf_map_meta_equal):
        the same type, sizes and flags, and the same max_entries unless BPF_F_INNER_MAP."""
        fields = ["type", "key_size", "value_size", "flags"]
        if not self.flags & _abi.BPF_F_INNER_MAP:
            fields.insert(3, "max_entries")
        return [Difference("inner." + _LABELS.get(f, f), int(getattr(self, f)), int(getattr(live, f)))
                for f in fields if getattr(self, f) != getattr(live, f)]
