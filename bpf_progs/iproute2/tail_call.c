// SPDX-License-Identifier: GPL-2.0
/*
 * Legacy tc object with tail calls wired through section names.
 *
 *   jmp_table  PROG_ARRAY, id 42, 4 entries, PIN_GLOBAL_NS
 *   tail_hits  ARRAY u32->u64, 4 entries, PIN_GLOBAL_NS
 *
 * "classifier" cls_entry reads the first packet byte k; for k < 4 it tail
 * calls jmp_table[k]. If the byte is missing, k >= 4, or the slot is empty,
 * it returns 1.
 *
 * "42/0" (tail_0): tail_hits[0] += 1, returns 10  -> inserted at jmp_table[0]
 * "42/1" (tail_1): tail_hits[1] += 1, returns 11  -> inserted at jmp_table[1]
 * "43/0" (tail_orphan): no PROG_ARRAY has id 43, so the loader must skip
 *         this section entirely. Were it ever run it would bump
 *         tail_hits[3] and return 43.
 *
 * Expected: first byte 0 -> 10, byte 1 -> 11, bytes 2..255 -> 1;
 * tail_hits[2] and tail_hits[3] stay 0.
 */
#include "legacy_maps.h"

#define JMP_TABLE_ID	42
#define JMP_TABLE_SIZE	4

LEGACY_MAP(jmp_table, BPF_MAP_TYPE_PROG_ARRAY, __u32, __u32, JMP_TABLE_SIZE,
	   PIN_GLOBAL_NS, .id = JMP_TABLE_ID);
LEGACY_MAP(tail_hits, BPF_MAP_TYPE_ARRAY, __u32, __u64, 4, PIN_GLOBAL_NS);

SEC("classifier")
int cls_entry(struct __sk_buff *skb)
{
	__u8 first;

	if (bpf_skb_load_bytes(skb, 0, &first, sizeof(first)) < 0)
		return 1;
	if (first >= JMP_TABLE_SIZE)
		return 1;

	bpf_tail_call(skb, &jmp_table, first);
	/* Only reached when jmp_table[first] is empty. */
	return 1;
}

SEC("42/0")
int tail_0(struct __sk_buff *skb)
{
	legacy_count(&tail_hits, 0, 1);
	return 10;
}

SEC("42/1")
int tail_1(struct __sk_buff *skb)
{
	legacy_count(&tail_hits, 1, 1);
	return 11;
}

SEC("43/0")
int tail_orphan(struct __sk_buff *skb)
{
	legacy_count(&tail_hits, 3, 1);
	return 43;
}

char __license[] SEC("license") = "GPL";
