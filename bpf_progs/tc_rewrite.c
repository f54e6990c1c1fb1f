// SPDX-License-Identifier: GPL-2.0
/* Overwrite byte 0 with 0xAA; verdict comes from tc_config[0]. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define TC_ACT_OK   0
#define TC_ACT_SHOT 2

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1); /* [0] != 0 => drop */
	__type(key, __u32);
	__type(value, __u32);
} tc_config SEC(".maps");

SEC("tc")
int tc_rewrite(struct __sk_buff *skb)
{
	__u32 k0 = 0, *cfg;
	__u8 byte = 0xAA;

	if (skb->len >= 14)
		bpf_skb_store_bytes(skb, 0, &byte, sizeof(byte), 0);

	cfg = bpf_map_lookup_elem(&tc_config, &k0);
	if (cfg && *cfg != 0)
		return TC_ACT_SHOT;
	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
