// SPDX-License-Identifier: GPL-2.0
/* Every kind of global a skeleton types, and names Python cannot take as they are. `run` (with
 * BPF_PROG_TEST_RUN) copies what user space set (rodata, data, custom sections) into .bss, so a
 * test reads through the skeleton what the program saw; `def` (auto-attached) counts getppid()
 * calls of the process whose tgid is in `target_tgid`; `lambda` (xdp) is not auto-attached. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include <stdbool.h>

struct config {
	__u32 limit;
	__s16 offset;
	char label[6];
	struct {
		__u8 x, y;
	} inner;
	__u32 low : 4, high : 12;
};

struct range {
	__u32 from;                 /* a keyword in Python */
	__u32 to;
};

const volatile __u32 threshold = 10;                       /* .rodata */
const volatile struct config cfg = { .limit = 100, .offset = -5, .label = "base", .inner = { 1, 2 }, .low = 3 };
const volatile char greeting[8] = "hello";

__u32 step = 1;                                            /* .data */
bool enabled = true;
char tag[5] = "tag";
struct range from = { .from = 1, .to = 9 };               /* a variable named like a keyword */
__u32 _touched = 4;                                        /* a name the skeleton's classes use */

__u64 counter;                                             /* .bss */
__u64 hist[4];
__u32 seen_threshold;
struct config seen_cfg;
char seen_tag[5];
char seen_greeting[8];
__u32 seen_span;
__u32 target_tgid;
__u64 getppid_calls;

__u32 extra_count SEC(".data.extra") = 5;                 /* custom sections */
const volatile __u32 extra_step SEC(".rodata.extra") = 2;

extern int LINUX_KERNEL_VERSION __kconfig;

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 2);
	__type(key, __u32);
	__type(value, __u64);
} class SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 8);
	__type(key, __u32);
	__type(value, __u32);
} class_ SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct range);
} _obj SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, 4096);
} __secret SEC(".maps");

SEC("tc")
int run(struct __sk_buff *skb)
{
	__u32 zero = 0;
	__u64 *slot = bpf_map_lookup_elem(&class, &zero);
	__u64 n = __sync_fetch_and_add(&counter, step);

	if (slot)
		*slot += 1;
	hist[n & 3] = n;
	seen_threshold = threshold;
	seen_cfg = cfg;
	__builtin_memcpy(seen_tag, tag, sizeof(seen_tag));
	for (int i = 0; i < sizeof(seen_greeting); i++)  /* (volatile reads: not folded to the initializer) */
		seen_greeting[i] = greeting[i];
	seen_span = from.to - from.from + _touched;
	extra_count += extra_step;
	return enabled && LINUX_KERNEL_VERSION > 0 ? 1 : 0;
}

SEC("tp/syscalls/sys_enter_getppid")
int def(void *ctx)
{
	if (bpf_get_current_pid_tgid() >> 32 == target_tgid)
		__sync_fetch_and_add(&getppid_calls, 1);
	return 0;
}

SEC("xdp")
int lambda(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
