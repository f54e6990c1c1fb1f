// SPDX-License-Identifier: GPL-2.0
/* The BTF-defined twin of bpf_progs/iproute2/ten_maps.c (same maps, same program), loaded by
 * native libbpf in bench/bench_iproute2.py as the baseline for the legacy rewrite. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define MAP(_name, _type, _k, _v, _max, ...)		\
	struct {					\
		__uint(type, _type);			\
		__uint(max_entries, _max);		\
		__type(key, _k);			\
		__type(value, _v);			\
		__VA_ARGS__				\
	} _name SEC(".maps")

MAP(t_arr0, BPF_MAP_TYPE_ARRAY, __u32, __u64, 4);
MAP(t_arr1, BPF_MAP_TYPE_ARRAY, __u32, __u64, 16);
MAP(t_arr2, BPF_MAP_TYPE_ARRAY, __u32, __u64, 64);
MAP(t_hash0, BPF_MAP_TYPE_HASH, __u32, __u64, 128);
MAP(t_hash1, BPF_MAP_TYPE_HASH, __u64, __u64, 256);
MAP(t_hash2, BPF_MAP_TYPE_HASH, __u32, __u32, 1024, __uint(map_flags, BPF_F_NO_PREALLOC););
MAP(t_lru, BPF_MAP_TYPE_LRU_HASH, __u32, __u64, 512);
MAP(t_pcpu, BPF_MAP_TYPE_PERCPU_ARRAY, __u32, __u64, 8);
MAP(t_jmp, BPF_MAP_TYPE_PROG_ARRAY, __u32, __u32, 8);
MAP(t_queue_like, BPF_MAP_TYPE_HASH, __u32, __u64, 32);

static __always_inline void count(void *map, __u32 key)
{
	__u64 *v = bpf_map_lookup_elem(map, &key);

	if (v)
		__sync_fetch_and_add(v, 1);
}

static __always_inline void hash_count(void *map, __u32 key)
{
	__u64 *v = bpf_map_lookup_elem(map, &key), one = 1;

	if (v)
		__sync_fetch_and_add(v, 1);
	else
		bpf_map_update_elem(map, &key, &one, BPF_NOEXIST);
}

SEC("tc")
int cls_ten(struct __sk_buff *skb)
{
	count(&t_arr0, 0);
	count(&t_arr1, 1);
	count(&t_arr2, 2);
	hash_count(&t_hash0, skb->len);
	hash_count(&t_lru, skb->len);
	count(&t_pcpu, 0);
	hash_count(&t_queue_like, 3);
	{
		__u64 k = skb->len, one = 1;
		__u32 k32 = skb->len, v32 = 1;

		bpf_map_update_elem(&t_hash1, &k, &one, BPF_ANY);
		bpf_map_update_elem(&t_hash2, &k32, &v32, BPF_ANY);
	}
	bpf_tail_call(skb, &t_jmp, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
