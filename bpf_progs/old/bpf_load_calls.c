// SPDX-License-Identifier: GPL-2.0
/* A bpf_load.c-era object that bpf_load.c itself could not load: a BPF-to-BPF call (a
 * non-inlined function; bpf_load.c stopped at its relocation, "invalid relo ... code 0x85"),
 * and a global variable in .bss (bpf_load.c made no map for it; libbpf 1.x does). The strings
 * of a program in a section bpf_load.c skips ("lwt_xmit") still get their .rodata.str1.1 map.
 * classify returns twice the packet's length through the call, and counts in .bss. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "bpf_load_map_def.h"

struct bpf_map_def SEC("maps") lengths = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 1,
};

__u64 calls;

static __attribute__((noinline)) int twice(int n)
{
	calls++;
	return 2 * n;
}

SEC("socket_calls")
int classify(struct __sk_buff *skb)
{
	__u32 key = 0;
	__u64 *length = bpf_map_lookup_elem(&lengths, &key);

	if (length)
		*length = skb->len;
	return twice(skb->len);
}

SEC("lwt_xmit")
int skipped(struct __sk_buff *skb)
{
	bpf_printk("skipped %d", skb->len);
	return 0; /* BPF_OK */
}

char _license[] SEC("license") = "GPL";
