// SPDX-License-Identifier: GPL-2.0
/* An XDP program written for `ip link set dev X xdp obj F sec xdp_prog` with samples' 28-byte
 * map definition (inner_map_idx and numa_node zero): counts[0] += 1 per packet. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "bpf_load_map_def.h"


struct bpf_map_def SEC("maps") counts = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 1,
};

SEC("xdp_prog")
int xdp_count_packets(struct xdp_md *ctx)
{
	__u32 zero = 0;
	__u64 *value = bpf_map_lookup_elem(&counts, &zero);

	if (value)
		__sync_fetch_and_add(value, 1);
	return XDP_PASS;
}

char _license[] SEC("license") = "GPL";
