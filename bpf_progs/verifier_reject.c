// SPDX-License-Identifier: GPL-2.0
/*
 * bad_deref compiles but must be rejected by the verifier: the lookup result
 * is dereferenced without a NULL check ("invalid mem access
 * 'map_value_or_null'"). good_prog is a trivially valid program.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} lookup_target SEC(".maps");

SEC("tc")
int bad_deref(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *val = bpf_map_lookup_elem(&lookup_target, &key);

	return *val ? 1 : 0; /* deliberately missing NULL check */
}

SEC("tc")
int good_prog(struct __sk_buff *skb)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
