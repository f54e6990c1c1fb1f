// SPDX-License-Identifier: GPL-2.0
/* The shape of samples/bpf's sockex3 in its 2020 form: libbpf 0.x's 20-byte struct bpf_map_def,
 * and every program in a numbered "socket/N" section, which bpf_load.c puts at key N of the last
 * prog array. The entry (socket/0) tail calls jmp_table[1], which counts and returns 42; with an
 * empty slot the entry returns 1. Only bpf_load.c's reading wires the slots. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "libbpf0_map_def.h"

struct bpf_map_def SEC("maps") hits = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 2,
};

struct bpf_map_def SEC("maps") jmp_table = {
	.type = BPF_MAP_TYPE_PROG_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u32),
	.max_entries = 8,
};

SEC("socket/1")
int parse_next(struct __sk_buff *skb)
{
	__u32 key = 1;
	__u64 *count = bpf_map_lookup_elem(&hits, &key);

	if (count)
		__sync_fetch_and_add(count, 1);
	return 42;
}

SEC("socket/0")
int main_prog(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jmp_table, 1);
	return 1;
}

char _license[] SEC("license") = "GPL";
