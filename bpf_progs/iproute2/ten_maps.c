// SPDX-License-Identifier: GPL-2.0
/* A typical legacy tc object with ten maps, for bench/bench_iproute2.py; its BTF-defined twin
 * is bpf_progs/ten_maps_btf.c. No pinning, so the benchmark measures rewriting and loading. */
#include "legacy_maps.h"

LEGACY_MAP(t_arr0, BPF_MAP_TYPE_ARRAY, __u32, __u64, 4, PIN_NONE);
LEGACY_MAP(t_arr1, BPF_MAP_TYPE_ARRAY, __u32, __u64, 16, PIN_NONE);
LEGACY_MAP(t_arr2, BPF_MAP_TYPE_ARRAY, __u32, __u64, 64, PIN_NONE);
LEGACY_MAP(t_hash0, BPF_MAP_TYPE_HASH, __u32, __u64, 128, PIN_NONE);
LEGACY_MAP(t_hash1, BPF_MAP_TYPE_HASH, __u64, __u64, 256, PIN_NONE);
LEGACY_MAP(t_hash2, BPF_MAP_TYPE_HASH, __u32, __u32, 1024, PIN_NONE, .flags = BPF_F_NO_PREALLOC);
LEGACY_MAP(t_lru, BPF_MAP_TYPE_LRU_HASH, __u32, __u64, 512, PIN_NONE);
LEGACY_MAP(t_pcpu, BPF_MAP_TYPE_PERCPU_ARRAY, __u32, __u64, 8, PIN_NONE);
LEGACY_MAP(t_jmp, BPF_MAP_TYPE_PROG_ARRAY, __u32, __u32, 8, PIN_NONE, .id = 1);
LEGACY_MAP(t_queue_like, BPF_MAP_TYPE_HASH, __u32, __u64, 32, PIN_NONE);

SEC("classifier")
int cls_ten(struct __sk_buff *skb)
{
	legacy_count(&t_arr0, 0, 1);
	legacy_count(&t_arr1, 1, 1);
	legacy_count(&t_arr2, 2, 1);
	legacy_hash_count(&t_hash0, skb->len, 1);
	legacy_hash_count(&t_lru, skb->len, 1);
	legacy_count(&t_pcpu, 0, 1);
	legacy_hash_count(&t_queue_like, 3, 1);
	{
		__u64 k = skb->len, one = 1;
		__u32 k32 = skb->len, v32 = 1;

		bpf_map_update_elem(&t_hash1, &k, &one, BPF_ANY);
		bpf_map_update_elem(&t_hash2, &k32, &v32, BPF_ANY);
	}
	bpf_tail_call(skb, &t_jmp, 0);
	return TC_ACT_OK;
}

char __license[] SEC("license") = "GPL";
