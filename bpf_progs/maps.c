// SPDX-License-Identifier: GPL-2.0
/* One of each common map type, plus a tc program that touches most of them. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define TC_ACT_OK 0

struct pair {
	__u32 a;
	__u32 b;
	__u64 c;
};

struct event {
	__u32 len;
	__u32 seq;
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, __u32);
	__type(value, __u64);
} hash_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, __u64);
} array_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_HASH);
	__uint(max_entries, 128);
	__type(key, __u32);
	__type(value, __u64);
} percpu_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u64);
} percpu_array SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 64);
	__type(key, __u32);
	__type(value, __u64);
} lru_hash SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_QUEUE);
	__uint(max_entries, 32);
	__type(value, __u32);
} queue SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_STACK);
	__uint(max_entries, 32);
	__type(value, __u32);
} stack SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096 * 4);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 16);
	__type(key, __u32);
	__type(value, struct pair);
} struct_map SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 4);
	__type(key, __u32);
	__array(values, struct {
		__uint(type, BPF_MAP_TYPE_ARRAY);
		__uint(max_entries, 8);
		__type(key, __u32);
		__type(value, __u64);
	});
} outer_map SEC(".maps");

SEC("tc")
int count_packets(struct __sk_buff *skb)
{
	__u32 len = skb->len;
	__u32 k0 = 0, k1 = 1;
	__u64 seq = 0, one = 1, *val;
	struct event *ev;
	struct pair p;

	val = bpf_map_lookup_elem(&array_map, &k0);
	if (val)
		seq = __sync_add_and_fetch(val, 1);
	val = bpf_map_lookup_elem(&array_map, &k1);
	if (val)
		__sync_fetch_and_add(val, len);

	val = bpf_map_lookup_elem(&hash_map, &len);
	if (val) {
		__sync_fetch_and_add(val, 1);
	} else if (bpf_map_update_elem(&hash_map, &len, &one, BPF_NOEXIST)) {
		/* Lost an insert race: the entry exists now. */
		val = bpf_map_lookup_elem(&hash_map, &len);
		if (val)
			__sync_fetch_and_add(val, 1);
	}

	val = bpf_map_lookup_elem(&percpu_array, &k0);
	if (val)
		*val += 1;

	bpf_map_push_elem(&queue, &len, 0); /* fails with -E2BIG when full */

	ev = bpf_ringbuf_reserve(&events, sizeof(*ev), 0);
	if (ev) {
		ev->len = len;
		ev->seq = (__u32)seq;
		bpf_ringbuf_submit(ev, 0);
	}

	p.a = len;
	p.b = 7;
	p.c = seq;
	bpf_map_update_elem(&struct_map, &k1, &p, BPF_ANY);

	return TC_ACT_OK;
}

char LICENSE[] SEC("license") = "GPL";
