// SPDX-License-Identifier: GPL-2.0
/* The benchmark's maps, for peers that take maps only from an object (pylibbpf):
 * u32 -> u64, 100000 entries, as bench/bench_maps.py's defaults. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 100000);
	__type(key, __u32);
	__type(value, __u64);
} bench_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 100000);
	__type(key, __u32);
	__type(value, __u64);
} bench_array SEC(".maps");

SEC("xdp")
int bench_touch(struct xdp_md *ctx)
{
	__u32 key = 0;
	__u64 *value = bpf_map_lookup_elem(&bench_hash, &key);

	if (value)
		__sync_fetch_and_add(value, 1);
	value = bpf_map_lookup_elem(&bench_array, &key);
	if (value)
		__sync_fetch_and_add(value, 1);
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
