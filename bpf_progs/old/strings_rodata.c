// SPDX-License-Identifier: GPL-2.0
/* String literals reached through a pointer: clang puts them in ".rodata.str1.1", which
 * libbpf 0.x skipped as an unknown data section (then refused the program relocated against
 * it) and bpf_load.c never relocated. libbpf 1.x makes an internal map of it, also when only a
 * program its loader skips ("lwt_xmit" under bpf_load.c) uses it. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "libbpf0_map_def.h"

struct bpf_map_def SEC("maps") marks = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 1,
};

SEC("lwt_xmit")
int trace_length(struct __sk_buff *skb)
{
	const char *format = "length %d\n";

	bpf_trace_printk(format, 11, skb->len);
	return 0; /* BPF_OK */
}

SEC("socket")
int mark(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *value = bpf_map_lookup_elem(&marks, &key);

	if (value)
		*value = 7;
	return 0;
}

char _license[] SEC("license") = "GPL";
