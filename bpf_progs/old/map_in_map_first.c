// SPDX-License-Identifier: GPL-2.0
/* The shape of samples/bpf's map_perf_test_kern.c with bpf_load.c's 28-byte definitions, its
 * inner template first: inner_map_idx 0 and numa_node 0 leave nothing non-zero past libbpf 0.x's
 * 20 bytes, so both formats read it, but only bpf_load.c can create the map-in-map (libbpf 0.x
 * has no inner template for it). lookup_inner reads inner[0] through outer[0] into counts[0]. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "bpf_load_map_def.h"

struct bpf_map_def SEC("maps") inner_lru = {	/* index 0: the inner template */
	.type = BPF_MAP_TYPE_LRU_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(long),
	.max_entries = 16,
	.map_flags = BPF_F_NUMA_NODE,
	.numa_node = 0,
};

struct bpf_map_def SEC("maps") array_of_lru = {	/* index 1 */
	.type = BPF_MAP_TYPE_ARRAY_OF_MAPS,
	.key_size = sizeof(__u32),
	.max_entries = 4,
	.inner_map_idx = 0,
};

struct bpf_map_def SEC("maps") counts = {	/* index 2 */
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(long),
	.max_entries = 1,
};

SEC("kprobe/sys_getuid")
int stress_lru(void *ctx)
{
	__u32 key = 0;
	long one = 1;
	void *inner = bpf_map_lookup_elem(&array_of_lru, &key);

	if (inner)
		bpf_map_update_elem(inner, &key, &one, BPF_ANY);
	return 0;
}

SEC("socket")
int lookup_inner(struct __sk_buff *skb)
{
	__u32 key = 0;
	long *value, *count;
	void *inner = bpf_map_lookup_elem(&array_of_lru, &key);

	if (!inner)
		return 0;
	value = bpf_map_lookup_elem(inner, &key);
	count = bpf_map_lookup_elem(&counts, &key);
	if (value && count)
		*count = *value;
	return 0;
}

char _license[] SEC("license") = "GPL";
