// SPDX-License-Identifier: GPL-2.0
/* A BPF_F_MMAPABLE array shared with user space: `bump` adds 1 to counters[0] and copies
 * counters[2] * 2 (written by user space) into counters[1]. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} counters SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} plain SEC(".maps");

SEC("tc")
int bump(struct __sk_buff *skb)
{
	__u32 k0 = 0, k1 = 1, k2 = 2;
	__u64 *c0 = bpf_map_lookup_elem(&counters, &k0);
	__u64 *c1 = bpf_map_lookup_elem(&counters, &k1);
	__u64 *c2 = bpf_map_lookup_elem(&counters, &k2);

	if (c0 && c1 && c2) {
		__sync_fetch_and_add(c0, 1);
		*c1 = *c2 * 2;
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
