// SPDX-License-Identifier: GPL-2.0
/* Count packets/bytes; drop packets whose first byte is 0xff. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2); /* [0] = packets, [1] = bytes */
	__type(key, __u32);
	__type(value, __u64);
} xdp_stats SEC(".maps");

SEC("xdp")
int xdp_count(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u32 k0 = 0, k1 = 1;
	__u64 *val;

	val = bpf_map_lookup_elem(&xdp_stats, &k0);
	if (val)
		__sync_fetch_and_add(val, 1);
	val = bpf_map_lookup_elem(&xdp_stats, &k1);
	if (val)
		__sync_fetch_and_add(val, data_end - data);

	if (data + 1 <= data_end && *(__u8 *)data == 0xff)
		return XDP_DROP;
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
