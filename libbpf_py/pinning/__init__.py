"""Pinning: a policy decides where each map (and program) is pinned; one session applies it.

- :mod:`.policy`: :class:`PinPolicy` (pins nothing by itself) and :class:`PinByName`;
- :mod:`.session`: the mechanism run by ``Object.load()`` — reuse if compatible, pin what
  is new, roll back what a failed load made;
- :mod:`.pins`: replacing and removing pins.
"""

from .policy import PinByName, PinPolicy, check_name
from .session import PinSession, planned_map_path

__all__ = ["PinByName", "PinPolicy", "PinSession", "check_name", "planned_map_path"]
