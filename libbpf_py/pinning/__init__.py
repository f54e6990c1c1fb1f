"""Pinning: a policy decides where each map (and program) is pinned; one session applies it.

- :mod:`.policy`: :class:`PinPolicy` (pins nothing by itself) and :class:`PinByName`;
- :mod:`.session`: the mechanism run by ``Object.load()`` — reuse if compatible, pin what
  is new, roll back what a failed load made (imported by the first load that has a policy);
- :mod:`.pins`: replacing and removing pins.
"""

from .policy import PinByName, PinPolicy, check_name

__all__ = ["PinByName", "PinPolicy", "check_name"]
