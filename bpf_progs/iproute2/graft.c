// SPDX-License-Identifier: GPL-2.0
/*
 * For `tc exec bpf graft m:globals/jmp_tc key 0 obj graft.o sec aaa`, after the entry was
 * attached with `tc filter add ... bpf da obj graft.o`: the classifier tail calls jmp_tc[0]
 * and returns 1 when the slot is empty; "aaa" returns 42 and "bbb" 43 when grafted there.
 *
 *   jmp_tc  PROG_ARRAY, 1 entry, PIN_GLOBAL_NS (no id: no section fills it at load)
 */
#include "legacy_maps.h"

LEGACY_MAP(jmp_tc, BPF_MAP_TYPE_PROG_ARRAY, __u32, __u32, 1, PIN_GLOBAL_NS);

SEC("aaa")
int cls_aaa(struct __sk_buff *skb)
{
	return 42;
}

SEC("bbb")
int cls_bbb(struct __sk_buff *skb)
{
	return 43;
}

SEC("classifier")
int cls_entry(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jmp_tc, 0);
	return 1;
}

char __license[] SEC("license") = "GPL";
