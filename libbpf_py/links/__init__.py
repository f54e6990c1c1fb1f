"""Links: a program attached to a hook for as long as its :class:`Link` (or a pin of it) lives.

A Link comes from one of ``Program.attach*`` or from :meth:`Link.from_pinned`. It owns its
attachment: ``detach()`` ends it now; ``close()`` (or the end of a ``with`` block) releases the
handle, which ends an attachment nothing else holds, while a pinned link stays attached (also
after the process exits). A Link dropped without either is released as ``close()`` releases it
(libbpf's rule: an unpinned link detaches).

Pins: a Link knows the pins it was opened from or made (``pin_path`` is the latest), and the
link's id, so that ``unpin()`` works in any order: before or after ``close()`` or ``detach()``.
A pin is only ever removed while it still holds this very link (compared by link id): one
another process removed or replaced is left alone. ``detach()`` removes the pins it knows,
since a pin would otherwise keep a detached link (a defunct one, or, for link types the kernel
cannot detach, a live attachment); a link still held after that, by another process or a pin
this handle never knew of, is reported with a :class:`RuntimeWarning`, never left silently.

One interface (:class:`Link`), one class per kind of attachment: :class:`LibbpfLink`,
:class:`FdLink`, :class:`NetlinkAttachment`, :class:`UsdtLink` (a USDT probe's uprobes) and
:class:`ProgAttachment` (BPF_PROG_ATTACH, no kernel link).
"""

from .libbpf import LibbpfLink
from .link import FdLink, Link, LinkInfo, NetfilterHook, link_info
from .netlink import NetlinkAttachment
from .progattach import ProgAttachment
from .usdt import UsdtLink

__all__ = ["FdLink", "LibbpfLink", "Link", "LinkInfo", "NetfilterHook", "NetlinkAttachment", "ProgAttachment",
           "UsdtLink", "link_info"]
