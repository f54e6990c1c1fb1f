// SPDX-License-Identifier: GPL-2.0
/* An sk_msg verdict program on a sockmap: it counts the messages (sendmsg calls) of the sockets
 * in `socks` and the bytes they carry, and lets them pass. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_SOCKMAP);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u32);
} socks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2); /* [0] messages, [1] bytes */
	__type(key, __u32);
	__type(value, __u64);
} msg_counts SEC(".maps");

SEC("sk_msg")
int p2_msg_count(struct sk_msg_md *msg)
{
	__u32 messages = 0, bytes = 1;
	__u64 *value;

	value = bpf_map_lookup_elem(&msg_counts, &messages);
	if (value)
		__sync_fetch_and_add(value, 1);
	value = bpf_map_lookup_elem(&msg_counts, &bytes);
	if (value)
		__sync_fetch_and_add(value, msg->size);
	return SK_PASS;
}

char LICENSE[] SEC("license") = "GPL";
