// SPDX-License-Identifier: GPL-2.0
/*
 * Legacy XDP object for "ip link set dev X xdp obj F" (default section
 * "prog"). Per packet: xdp_stats[0] += 1, xdp_stats[1] += frame length
 * (bpf_xdp_get_buff_len, kernel >= 5.18).
 * Returns XDP_PASS.
 */
#include "legacy_maps.h"

/* [0] packets, [1] bytes */
LEGACY_MAP(xdp_stats, BPF_MAP_TYPE_ARRAY, __u32, __u64, 2, PIN_GLOBAL_NS);

SEC("prog")
int xdp_main(struct xdp_md *ctx)
{
	/* A helper rather than data_end - data: the verifier only accepts
	 * pointer-minus-pointer when pointer leaks are allowed. */
	__u64 len = bpf_xdp_get_buff_len(ctx);

	legacy_count(&xdp_stats, 0, 1);
	legacy_count(&xdp_stats, 1, len);
	return XDP_PASS;
}

char __license[] SEC("license") = "GPL";
