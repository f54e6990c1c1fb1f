# expect: bad_kconfig.py:7: error: Property "LINUX_KERNEL_VERSION" defined in "Section_kconfig" is read-only
"""A .kconfig value: libbpf sets it."""

import skel_all_skel

skel = skel_all_skel.open()
skel.kconfig.LINUX_KERNEL_VERSION = 5
