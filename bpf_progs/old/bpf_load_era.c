// SPDX-License-Identifier: GPL-2.0
/* Written for samples/bpf's bpf_load.c: its 28-byte struct bpf_map_def adds inner_map_idx
 * (a map-in-map's inner template: the map at that index) and numa_node (with BPF_F_NUMA_NODE).
 * bpf_load.c loads the sections it knows by prefix ("socket", "xdp"...) and skips the others
 * (here "lwt_in"). lookup_through_outer reads inner[0] through outer[0] into counts[0]. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "bpf_load_map_def.h"


struct bpf_map_def SEC("maps") counts = {	/* index 0 */
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 4,
};

struct bpf_map_def SEC("maps") inner_proto = {	/* index 1: the inner template */
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u32),
	.max_entries = 8,
};

struct bpf_map_def SEC("maps") outer = {	/* index 2 */
	.type = BPF_MAP_TYPE_ARRAY_OF_MAPS,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u32),
	.max_entries = 2,
	.inner_map_idx = 1,
};

struct bpf_map_def SEC("maps") on_node = {	/* index 3 */
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 16,
	.map_flags = BPF_F_NUMA_NODE,
	.numa_node = 0,
};

SEC("socket_lookup")
int lookup_through_outer(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u32 *inner_value;
	__u64 *count;
	void *inner = bpf_map_lookup_elem(&outer, &zero);

	if (!inner)
		return 0;
	inner_value = bpf_map_lookup_elem(inner, &zero);
	count = bpf_map_lookup_elem(&counts, &zero);
	if (inner_value && count)
		*count = *inner_value;
	return 0;
}

SEC("xdp_node")
int count_on_node(struct xdp_md *ctx)
{
	__u32 key = 1;
	__u64 one = 1;

	bpf_map_update_elem(&on_node, &key, &one, BPF_ANY);
	return XDP_PASS;
}

SEC("lwt_in")
int not_for_bpf_load(struct __sk_buff *skb)
{
	return 0; /* BPF_OK */
}

char _license[] SEC("license") = "GPL";
