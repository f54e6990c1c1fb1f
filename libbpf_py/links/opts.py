"""C layouts of the attach options libbpf takes (bpf/libbpf.h) that ``_abi`` does not declare.

Each starts with ``sz``: libbpf accepts a size up to its own and requires the bytes it does not
know to be zero, so declaring only the fields used here suits every libbpf 1.x (a field an
older libbpf lacks must then stay zero: the callers check it before the call).
"""

from __future__ import annotations

from ctypes import Structure, c_bool, c_int32, c_size_t, c_uint8, c_uint32, c_uint64, c_void_p


class BpfUsdtOpts(Structure):
    """struct bpf_usdt_opts (libbpf 0.8)."""

    _fields_ = [("sz", c_size_t), ("usdt_cookie", c_uint64)]


class BpfTracepointOpts(Structure):
    """struct bpf_tracepoint_opts (libbpf 0.5)."""

    _fields_ = [("sz", c_size_t), ("bpf_cookie", c_uint64)]


class BpfPerfEventOpts(Structure):
    """struct bpf_perf_event_opts up to bpf_cookie (libbpf 0.5; later ones add flags after it)."""

    _fields_ = [("sz", c_size_t), ("bpf_cookie", c_uint64)]


class BpfKprobeOpts(Structure):
    """struct bpf_kprobe_opts up to retprobe (libbpf 0.5; 1.2 adds attach_mode after it)."""

    _fields_ = [("sz", c_size_t), ("bpf_cookie", c_uint64), ("offset", c_size_t), ("retprobe", c_bool),
                ("_pad", c_uint8 * 7)]


class BpfUprobeMultiOpts(Structure):
    """struct bpf_uprobe_multi_opts up to retprobe (libbpf 1.3; 1.5 adds session in its padding)."""

    _fields_ = [("sz", c_size_t), ("syms", c_void_p), ("offsets", c_void_p), ("ref_ctr_offsets", c_void_p),
                ("cookies", c_void_p), ("cnt", c_size_t), ("retprobe", c_bool), ("_pad", c_uint8 * 7)]


class BpfNetfilterOpts(Structure):
    """struct bpf_netfilter_opts (libbpf 1.3)."""

    _fields_ = [("sz", c_size_t), ("pf", c_uint32), ("hooknum", c_uint32), ("priority", c_int32),
                ("flags", c_uint32)]


class BpfNetkitOpts(Structure):
    """struct bpf_netkit_opts (libbpf 1.3)."""

    _fields_ = [("sz", c_size_t), ("flags", c_uint32), ("relative_fd", c_uint32), ("relative_id", c_uint32),
                ("_pad", c_uint32), ("expected_revision", c_uint64)]
