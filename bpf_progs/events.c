// SPDX-License-Identifier: GPL-2.0
/* Records for the ring buffer tests and benchmarks. `emit` (tc, run with BPF_PROG_TEST_RUN)
 * submits config[0] records per run to `events`, numbered by a global sequence; `emit_other`
 * does the same into `other_events`; `getpgid_events` submits one record per getpgid() of
 * the process in target_tgid (a real syscall tracepoint). A reservation the ring refuses
 * (full) is counted in drops[0]. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct event {
	__u32 seq;
	__u32 cpu;
	__u64 value;
};

struct event last_event; /* the last record submitted (and struct event in the object's BTF) */

#ifndef EVENTS_RING_SIZE
#define EVENTS_RING_SIZE (1 << 16)
#endif

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, EVENTS_RING_SIZE);
} events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 12);
} other_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERF_EVENT_ARRAY);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(__u32));
} perf_events SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} config SEC(".maps"); /* [0] records per run, [1] the next sequence number */

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u64);
} drops SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} target_tgid SEC(".maps");

static __always_inline void submit(void *ring, __u64 value)
{
	__u32 zero = 0, one = 1;
	__u64 *next = bpf_map_lookup_elem(&config, &one);
	struct event *ev;

	if (!next)
		return;
	ev = bpf_ringbuf_reserve(ring, sizeof(*ev), 0);
	if (!ev) {
		__u64 *dropped = bpf_map_lookup_elem(&drops, &zero);

		if (dropped)
			__sync_fetch_and_add(dropped, 1);
		return;
	}
	ev->seq = (__u32)__sync_fetch_and_add(next, 1);
	ev->cpu = bpf_get_smp_processor_id();
	ev->value = value;
	last_event = *ev;
	bpf_ringbuf_submit(ev, 0);
}

struct emit_ctx {
	void *ring;
	__u64 value;
};

static long emit_one(__u32 i, struct emit_ctx *ctx)
{
	submit(ctx->ring, ctx->value);
	return 0;
}

/* config[0] records (at most 1 << 20) through bpf_loop: verified once, not per iteration */
static __always_inline int emit_into(void *ring, __u32 len)
{
	__u32 zero = 0;
	__u64 *count = bpf_map_lookup_elem(&config, &zero);
	struct emit_ctx ctx = { .ring = ring, .value = len };

	bpf_loop(count ? (__u32)*count : 1, emit_one, &ctx, 0);
	return 0;
}

SEC("tc")
int emit(struct __sk_buff *skb)
{
	return emit_into(&events, skb->len);
}

SEC("tc")
int emit_other(struct __sk_buff *skb)
{
	return emit_into(&other_events, skb->len);
}

/* Records of three sizes in turn (8, 24, 40 bytes, each starting with its sequence number),
 * every fourth one discarded after its reservation: drain's careful path. */
static __always_inline void submit_sized(__u32 i, __u64 *next)
{
	__u32 seq = (__u32)__sync_fetch_and_add(next, 1);
	__u32 *rec;

	if (i % 3 == 0)
		rec = bpf_ringbuf_reserve(&events, 8, 0);
	else if (i % 3 == 1)
		rec = bpf_ringbuf_reserve(&events, 24, 0);
	else
		rec = bpf_ringbuf_reserve(&events, 40, 0);
	if (!rec)
		return;
	*rec = seq;
	if (i % 4 == 3)
		bpf_ringbuf_discard(rec, 0);
	else
		bpf_ringbuf_submit(rec, 0);
}

static long emit_sized(__u32 i, void *unused)
{
	__u32 one = 1;
	__u64 *next = bpf_map_lookup_elem(&config, &one);

	if (next)
		submit_sized(i, next);
	return 0;
}

SEC("tc")
int emit_mixed(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u64 *count = bpf_map_lookup_elem(&config, &zero);

	bpf_loop(count ? (__u32)*count : 1, emit_sized, NULL, 0);
	return 0;
}

struct perf_ctx {
	struct __sk_buff *skb;
	__u64 *next;
};

static long output_one(__u32 i, struct perf_ctx *ctx)
{
	struct event ev = {
		.seq = (__u32)__sync_fetch_and_add(ctx->next, 1),
		.cpu = bpf_get_smp_processor_id(),
		.value = 0xbeef,
	};

	bpf_perf_event_output(ctx->skb, &perf_events, BPF_F_CURRENT_CPU, &ev, sizeof(ev));
	return 0;
}

/* config[0] records into perf_events (bpf_perf_event_output), numbered as the ring's are */
SEC("tc")
int emit_perf(struct __sk_buff *skb)
{
	__u32 zero = 0, one = 1;
	__u64 *count = bpf_map_lookup_elem(&config, &zero);
	__u64 *next = bpf_map_lookup_elem(&config, &one);
	struct perf_ctx ctx = { .skb = skb, .next = next };

	if (!next)
		return 0;
	bpf_loop(count ? (__u32)*count : 1, output_one, &ctx, 0);
	return 0;
}

/* Records user space writes (UserRingBuffer): take_user adds each one's first 8 bytes. */
struct {
	__uint(type, BPF_MAP_TYPE_USER_RINGBUF);
	__uint(max_entries, 4096);
} user_events SEC(".maps");

__u64 user_total, user_count;

static long take_one(struct bpf_dynptr *record, void *unused)
{
	__u64 value = 0;

	if (bpf_dynptr_read(&value, sizeof(value), record, 0, 0) == 0) {
		user_total += value;
		user_count += 1;
	}
	return 0;
}

SEC("tc")
int take_user(struct __sk_buff *skb)
{
	bpf_user_ringbuf_drain(&user_events, take_one, NULL, 0);
	return 0;
}

SEC("tp/syscalls/sys_enter_getpgid")
int getpgid_events(void *ctx)
{
	__u32 zero = 0;
	__u32 *tgid = bpf_map_lookup_elem(&target_tgid, &zero);

	if (tgid && *tgid == bpf_get_current_pid_tgid() >> 32)
		submit(&events, 0xfeed);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
