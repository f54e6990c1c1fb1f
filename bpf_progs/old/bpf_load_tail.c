// SPDX-License-Identifier: GPL-2.0
/* As samples/bpf's sockex3 wired its parser: bpf_load.c puts the program of section "socket/N"
 * at key N of the last prog array it created. The entry tail calls jmp_table[0] (returns 42),
 * and returns 1 when the slot is empty. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "bpf_load_map_def.h"

struct bpf_map_def SEC("maps") jmp_table = {
	.type = BPF_MAP_TYPE_PROG_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u32),
	.max_entries = 4,
};

SEC("socket/0")
int parse_next(struct __sk_buff *skb)
{
	return 42;
}

SEC("socket")
int entry(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jmp_table, 0);
	return 1;
}

char _license[] SEC("license") = "GPL";
