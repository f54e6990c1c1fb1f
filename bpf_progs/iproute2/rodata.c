// SPDX-License-Identifier: GPL-2.0
/*
 * A legacy tc object whose program reads a constant table and prints a constant string: clang
 * puts them in .rodata and .rodata.str1.1, which iproute2's legacy loader cannot relocate (it
 * refuses the object) and libbpf turns into internal maps. Returns weights[skb->len & 3].
 *
 *   seen  ARRAY u32->u64, 1 entry, PIN_GLOBAL_NS: seen[0] += 1
 */
#include "legacy_maps.h"

LEGACY_MAP(seen, BPF_MAP_TYPE_ARRAY, __u32, __u64, 1, PIN_GLOBAL_NS);

static const volatile __u32 weights[4] = { 3, 5, 7, 11 };

SEC("classifier")
int cls_weights(struct __sk_buff *skb)
{
	legacy_count(&seen, 0, 1);
	bpf_trace_printk("weights %u\n", sizeof("weights %u\n"), skb->len); /* a literal: .rodata.str1.1 */
	return weights[skb->len & 3];
}

char __license[] SEC("license") = "GPL";
