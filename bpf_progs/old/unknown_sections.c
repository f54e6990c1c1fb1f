// SPDX-License-Identifier: GPL-2.0
/* Well-formed 20-byte map definitions, but programs in sections no loader of either era typed
 * ("ingress_redirect", "cls-hc": names a tc or ip command was told to load). */
#include <linux/bpf.h>
#include <linux/pkt_cls.h>
#include <bpf/bpf_helpers.h>
#include "libbpf0_map_def.h"

struct bpf_map_def SEC("maps") seen = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 1,
};

SEC("ingress_redirect")
int redirect(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *count = bpf_map_lookup_elem(&seen, &key);

	if (count)
		*count += 1;
	return TC_ACT_OK;
}

SEC("cls-hc")
int health_check(struct __sk_buff *skb)
{
	return TC_ACT_OK;
}

char _license[] SEC("license") = "GPL";
