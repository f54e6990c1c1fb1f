// SPDX-License-Identifier: GPL-2.0
/* Uses the records of tests/data/probe_events.h as a libbpf-tools tool would: `struct
 * exit_event` only through the void * of bpf_ringbuf_reserve (so clang leaves it out of the
 * object's BTF), `struct open_event` named by a global (kept). `emit` (tc, run with
 * BPF_PROG_TEST_RUN) submits one exit_event with known values in every field. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "../tests/data/probe_events.h"

struct open_event *unused_open_event; /* names the struct, so clang keeps it */

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 1 << 12);
} exits SEC(".maps");

SEC("tc")
int emit(struct __sk_buff *skb)
{
	struct exit_event *e = bpf_ringbuf_reserve(&exits, sizeof(*e), 0);

	if (!e)
		return 1;
	e->start_ns = 0x1122334455667788ULL;
	e->exit_ns = 42;
	e->pid = 1234;
	e->ppid = 1;
	e->sig = -9;
	e->exit_code = 0x7f00;
	__builtin_memcpy(e->comm, "probe\0tail\0\0\0\0\0z", sizeof(e->comm));
	e->ids.uid = 1000;
	e->ids.gid = 100;
	e->flags = 0xa5;
	e->cpu = 3;
	bpf_ringbuf_submit(e, 0);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
