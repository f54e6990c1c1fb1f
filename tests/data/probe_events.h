/* SPDX-License-Identifier: GPL-2.0 */
/* Records of a tool that traces process exits and file opens, written for these tests in the
 * style of a libbpf-tools header: no #include of its own, __u32 and friends come from what the
 * BPF program (or Btf.from_header's prelude) includes first. */
#ifndef PROBE_EVENTS_H
#define PROBE_EVENTS_H

#include "probe_events_common.h"

#define TASK_COMM_LEN 16
#define NAME_MAX 255

/* reached by the BPF program only through bpf_ringbuf_reserve's void *: clang leaves it out
 * of the object's BTF */
struct exit_event {
	__u64 start_ns;
	__u64 exit_ns;
	__u32 pid;
	__u32 ppid;
	int sig;
	int exit_code;
	char comm[TASK_COMM_LEN];
	struct probe_ids ids;
	__u8 flags;
	__u16 cpu;
};

/* named by a global of the BPF program: kept in the object's BTF (the layout oracle) */
struct open_event {
	__u64 ts;
	__s32 ret;
	__u32 flags : 3;
	__u32 mode : 12;
	__u8 kind;
	union {
		__u32 uid;
		__s16 small[2];
	};
	char fname[NAME_MAX];
};

enum exit_kind {
	EXIT_NORMAL = 0,
	EXIT_SIGNALED = 1,
	EXIT_DUMPED = 0x80,
};

union exit_status {
	__u32 raw;
	struct {
		__u8 sig;
		__u8 code;
	} parts;
};

typedef struct {
	__u32 count;
	__u64 total_ns;
} exit_totals_t;

typedef __u64 exit_time_t;

struct never_defined;

#endif /* PROBE_EVENTS_H */
