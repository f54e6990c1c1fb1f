// SPDX-License-Identifier: GPL-2.0
/* pinned_counts is pinned by name (under the pin root path); not_pinned is not. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#ifndef PINNED_ENTRIES
#define PINNED_ENTRIES 256
#endif

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, PINNED_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pinned_counts SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} not_pinned SEC(".maps");

SEC("tc")
int pin_count(struct __sk_buff *skb)
{
	__u32 k0 = 0;
	__u64 one = 1, *val;

	val = bpf_map_lookup_elem(&pinned_counts, &k0);
	if (val)
		__sync_fetch_and_add(val, 1);
	else
		bpf_map_update_elem(&pinned_counts, &k0, &one, BPF_NOEXIST);

	val = bpf_map_lookup_elem(&not_pinned, &k0);
	if (val)
		__sync_fetch_and_add(val, 1);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
