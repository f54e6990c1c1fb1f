"""A correct use of a skeleton: every line type-checks."""

from __future__ import annotations

import os
from typing import Dict, List

import skel_all_skel

import libbpf_py


def use() -> Dict[str, int]:
    with skel_all_skel.open() as skel:
        skel.rodata.threshold = 7
        skel.rodata.cfg = {"limit": 3, "label": "abc"}
        skel.rodata.cfg.inner.x = 9
        skel.rodata.greeting = b"hi"
        skel.data.enabled = True
        skel.data.tag = "tag"
        skel.data.from_.to = 4
        skel.data._touched_ = 2
        skel.data_extra.extra_count = 1
        skel.bss.hist = [1, 2, 3]
        cfg: skel_all_skel.struct_config = skel.rodata.cfg
        label: bytes = cfg.label
        high: int = cfg.high
        loaded = skel.load()
        assert loaded is skel
        counters: libbpf_py.Map = skel.maps.class_
        secret: libbpf_py.Map = skel.maps.x__secret
        bss: libbpf_py.Map = skel.maps.bss
        run: libbpf_py.Program = skel.progs.run
        result = run.test_run(bytes(64))
        skel.bss.target_tgid = os.getpid()
        links: List[libbpf_py.Link] = skel.attach()
        skel.bss.hist[0] = 5
        first: int = skel.bss.hist[0]
        seen: bytes = skel.bss.seen_tag
        version: int = skel.kconfig.LINUX_KERNEL_VERSION
        enabled: bool = skel.data.enabled
        skel.detach()
        return {"retval": result.retval, "links": len(links), "first": first, "version": version,
                "sizes": len(label) + len(seen) + high + int(enabled), "maps": len([counters, secret, bss])}
