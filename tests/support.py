"""Small helpers shared by the privileged tests (importable because tests/ holds conftest.py)."""

from __future__ import annotations

import contextlib
import json
import os
import re
from pathlib import Path
from typing import Any, Callable, Iterator, Optional, Tuple

import pytest

import libbpf_py as bpf

BAD = Path(__file__).resolve().parent / "data" / "bad"  # the corpus of malformed objects
BAD_EXPECTED = json.loads((BAD / "expected.json").read_text())


def load(src, opener=None, **options):
    """Open and load an object; on failure close it before re-raising (no fd outlives a test)."""
    obj = (opener or bpf.Object.open)(src, **options)
    try:
        obj.load()
    except BaseException:
        obj.close()
        raise
    return obj


def pinned_map_id(path) -> int:
    with bpf.Map.from_pinned(path) as m:
        return m.info().id


def pin_tree(root: Path) -> set:
    """Every entry below a bpffs mount, relative, without the kernel's own debug files."""
    return {str(p.relative_to(root)) for p in Path(root).rglob("*")} - {"maps.debug", "progs.debug"}


def check_bad_object(name: str) -> None:
    """Run a corpus case through its entry point; it raises what expected.json says."""
    case = BAD_EXPECTED[name]
    data = (BAD / f"{name}.o").read_bytes()

    def run() -> None:
        if case["entry"] == "rewrite":
            bpf.iproute2.rewrite(data)
        elif case["entry"] == "open":
            with bpf.Object.open(data, check_btf=True):
                pass
        else:
            with bpf.Object.open(data, pinning=bpf.PinPolicy()) as obj:
                obj.load()

    if case["raises"] == "ok":
        run()
        return
    with pytest.raises(Exception) as exc:
        run()
    assert type(exc.value).__name__.split("[")[0] == case["raises"], repr(exc.value)
    assert re.search(case["match"], str(exc.value)), str(exc.value)


# network namespaces (pyroute2, imported when used: the unit tests run without it) ---------------

@contextlib.contextmanager
def netns_pair(addresses: Optional[Tuple[str, str]] = None) -> Iterator[Tuple[Tuple[str, str], Tuple[str, str]]]:
    """Two new network namespaces joined by a veth pair, up (with ``addresses``, e.g.
    ``("10.99.0.1/24", "10.99.0.2/24")``, on the two ends): ``((ns_tx, dev_tx), (ns_rx, dev_rx))``.
    Both ends live in namespaces of their own (packets over a veth into the root namespace
    are dropped on the test machines); the namespaces, and with them the pair, are deleted by
    name afterwards, also when the test fails."""
    from pyroute2 import IPRoute, netns

    tag = f"{os.getpid() % 100000}"
    ns_tx, ns_rx = f"lbpy_tx_{tag}", f"lbpy_rx_{tag}"
    dev_tx, dev_rx = f"lbpytx{tag}", f"lbpyrx{tag}"
    netns.create(ns_tx)
    netns.create(ns_rx)
    try:
        for ns in (ns_tx, ns_rx):
            quiet_ipv6(ns)
        with IPRoute() as ipr:
            ipr.link("add", ifname=dev_tx, kind="veth", peer=dev_rx)
            ipr.link("set", index=ipr.link_lookup(ifname=dev_tx)[0], net_ns_fd=ns_tx)
            ipr.link("set", index=ipr.link_lookup(ifname=dev_rx)[0], net_ns_fd=ns_rx)
        for ns, dev, address in ((ns_tx, dev_tx, addresses and addresses[0]),
                                 (ns_rx, dev_rx, addresses and addresses[1])):
            def up(ipr: Any, dev: str = dev, address: Optional[str] = address) -> None:
                index = ipr.link_lookup(ifname=dev)[0]
                if address:
                    ip, prefix = address.split("/")
                    ipr.addr("add", index=index, address=ip, prefixlen=int(prefix))
                ipr.link("set", index=index, state="up")
            in_namespace(ns, up)
        yield (ns_tx, dev_tx), (ns_rx, dev_rx)
    finally:
        for ns in (ns_tx, ns_rx):
            try:
                netns.remove(ns)   # removing the namespaces removes the veth pair
            except OSError:
                pass


def quiet_ipv6(ns: str) -> None:
    """No IPv6 in the namespace: the kernel would send its own router and neighbour messages."""
    with inside(ns):
        for conf in ("all", "default"):
            with open(f"/proc/sys/net/ipv6/conf/{conf}/disable_ipv6", "w") as knob:
                knob.write("1")


@contextlib.contextmanager
def inside(ns: str) -> Iterator[None]:
    """This thread in network namespace ``ns`` for the body (sockets made there stay there)."""
    from pyroute2.netns import popns, pushns

    pushns(ns)
    try:
        yield
    finally:
        popns()


def in_namespace(ns: str, action: Callable[[Any], Any]) -> Any:
    """``action(ipr)`` with an IPRoute of namespace ``ns``."""
    from pyroute2 import IPRoute

    with inside(ns), IPRoute() as ipr:
        return action(ipr)


def built_tool(path: Path, how: str) -> None:
    """Skip unless the test tool at ``path`` is built (``how`` says how to build it); under
    LIBBPF_PY_REQUIRE_KERNEL=1 (CI) its absence fails instead."""
    if not path.exists():
        missing = f"{path} is not built (run {how})"
        if os.environ.get("LIBBPF_PY_REQUIRE_KERNEL") == "1":
            pytest.fail(missing)
        pytest.skip(missing)
