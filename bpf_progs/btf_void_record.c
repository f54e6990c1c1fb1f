// SPDX-License-Identifier: GPL-2.0
/* Ring buffer records reached only through void * (what bpf_ringbuf_reserve returns), as in
 * half of libbpf-tools: clang leaves `struct lost_event` out of the object's BTF, and keeps
 * `struct kept_event` because a global names it. `emit` (tc, run with BPF_PROG_TEST_RUN)
 * submits one kept_event whose char array holds bytes after its first NUL. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct lost_event {
	__u32 pid;
	char comm[16];
};

struct kept_event {
	__u32 pid;
	char name[12];
	__u32 tail;
};

struct kept_event *unused_kept_event; /* names the struct, so clang keeps it */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 12);
} records SEC(".maps");

SEC("tc")
int emit(struct __sk_buff *skb)
{
	struct lost_event *lost = bpf_ringbuf_reserve(&records, sizeof(*lost), 0);
	struct kept_event *kept;

	if (lost) {
		lost->pid = 1;
		bpf_ringbuf_discard(lost, 0);
	}
	kept = bpf_ringbuf_reserve(&records, sizeof(*kept), 0);
	if (!kept)
		return 1;
	kept->pid = 7;
	__builtin_memcpy(kept->name, "ab\0cd\0\0\0\0\0\0z", sizeof(kept->name));
	kept->tail = 0xfeed;
	bpf_ringbuf_submit(kept, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
