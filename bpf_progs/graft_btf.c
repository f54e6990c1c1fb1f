// SPDX-License-Identifier: GPL-2.0
/* iproute2/graft.c written with BTF-defined maps, as tc built with libbpf loads it: jmp_tc is
 * pinned by name (under tc/globals with tc); sections "aaa"/"bbb" return 42/43 from jmp_tc[0]. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_PROG_ARRAY);
	__uint(max_entries, 1);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} jmp_tc SEC(".maps");

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

SEC("tc")
int cls_entry(struct __sk_buff *skb)
{
	bpf_tail_call(skb, &jmp_tc, 0);
	return 1;
}

char LICENSE[] SEC("license") = "GPL";
