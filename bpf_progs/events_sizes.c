// SPDX-License-Identifier: GPL-2.0
/* Records of variable size, as tools that trim a variable-length tail send them (execsnoop's
 * event carries its arguments in a large array and is sent only as long as they are). `emit_sized`
 * (tc, run with BPF_PROG_TEST_RUN) sends one record per nonzero entry of `sizes`, in order, to
 * the ring buffer `sized_ring` and to the perf event array `sized_perf`: the first `sizes[i]`
 * bytes of `template` (written by user space), with seq = i and size = sizes[i] stamped in. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

#define SIZES 8

struct sized_event {
	__u32 seq;
	__u32 size;           /* the size sent */
	__u8 payload[7712];   /* 7720 bytes in all */
};

struct sized_event sized_event_type; /* struct sized_event in the object's BTF */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct sized_event);
} template SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SIZES);
	__type(key, __u32);
	__type(value, __u32);
} sizes SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 16);
} sized_ring SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} sized_perf SEC(".maps");

SEC("tc")
int emit_sized(struct __sk_buff *skb)
{
	__u32 zero = 0;
	struct sized_event *ev = bpf_map_lookup_elem(&template, &zero);

	if (!ev)
		return 0;
	for (__u32 i = 0; i < SIZES; i++) {
		__u32 *wanted = bpf_map_lookup_elem(&sizes, &i);
		__u32 size;

		if (!wanted || !*wanted)
			break;
		size = *wanted;
		if (size < 8)
			size = 8; /* seq and size always fit */
		if (size > sizeof(*ev))
			size = sizeof(*ev);
		ev->seq = i;
		ev->size = size;
		bpf_ringbuf_output(&sized_ring, ev, size, 0);
		bpf_perf_event_output(skb, &sized_perf, BPF_F_CURRENT_CPU, ev, size);
	}
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
