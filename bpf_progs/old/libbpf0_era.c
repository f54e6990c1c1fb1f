// SPDX-License-Identifier: GPL-2.0
/* Written as programs for libbpf 0.x were, before BTF-defined maps: struct bpf_map_def in
 * SEC("maps"), section names libbpf 0.x matched by prefix (xdp_prog, socket1), a version
 * section. Each program counts its runs in counts[i] and the lengths it saw in lengths.
 * With WITH_CLASSIFIER, also a "classifier" program: the object then reads as iproute2's too. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "libbpf0_map_def.h"

struct bpf_map_def SEC("maps") counts = {
	.type = BPF_MAP_TYPE_ARRAY,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 5,
};

struct bpf_map_def SEC("maps") lengths = {
	.type = BPF_MAP_TYPE_HASH,
	.key_size = sizeof(__u32),
	.value_size = sizeof(__u64),
	.max_entries = 64,
	.map_flags = BPF_F_NO_PREALLOC,
};

static __always_inline void count(__u32 index, __u32 len)
{
	__u64 one = 1, *value = bpf_map_lookup_elem(&counts, &index);

	if (value)
		__sync_fetch_and_add(value, 1);
	if (len)
		bpf_map_update_elem(&lengths, &len, &one, BPF_ANY);
}

SEC("xdp_prog")
int xdp_count(struct xdp_md *ctx)
{
	count(0, ctx->data_end - ctx->data);
	return XDP_PASS;
}

SEC("socket1")
int socket_count(struct __sk_buff *skb)
{
	count(1, skb->len);
	return 0;
}

SEC("kprobe/__x64_sys_getpgid")
int kprobe_count(void *ctx)
{
	count(2, 0);
	return 0;
}

SEC("cgroup/skb")
int cgroup_count(struct __sk_buff *skb)
{
	count(3, skb->len);
	return 1;
}

#ifdef WITH_CLASSIFIER
SEC("classifier")
int cls_count(struct __sk_buff *skb)
{
	count(4, skb->len);
	return 0;
}
#endif

char _license[] SEC("license") = "GPL";
__u32 _version SEC("version") = 0x050400;	/* LINUX_VERSION_CODE: 0.x needed it for kprobes */
