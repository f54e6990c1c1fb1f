// SPDX-License-Identifier: GPL-2.0
/* Global variables in every section libbpf maps: .bss, .data, .rodata (const volatile: set
 * before load), and custom .data.* / .rodata.* sections. `tick` (run with BPF_PROG_TEST_RUN)
 * counts in `packets`, copies `threshold` into `seen_threshold`, adds `step` (written from user
 * space while loaded) into `total`, and fills `last` from `settings`. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

enum mode { MODE_OFF, MODE_COUNT = 2, MODE_ALL = 7 };

struct settings {
	__u32 limit;
	__s16 offset;
	char label[6];
	enum mode mode;
};

__u64 packets;                                   /* .bss */
__u64 total;
__u32 seen_threshold;
struct settings last;
__u64 history[4];

__u32 step = 1;                                  /* .data */
enum mode current_mode = MODE_COUNT;

const volatile __u32 threshold = 10;             /* .rodata */
const volatile struct settings settings = { .limit = 100, .offset = -5, .label = "base", .mode = MODE_ALL };

__u32 custom_counter SEC(".data.custom") = 5;    /* a custom data section */
const volatile __u64 custom_limit SEC(".rodata.custom") = 99;

SEC("tc")
int tick(struct __sk_buff *skb)
{
	__u64 n = __sync_fetch_and_add(&packets, 1);

	total += step;
	seen_threshold = threshold;
	last = settings;
	history[n & 3] = n;
	custom_counter += 1;
	if (custom_limit == 0)
		return 1;
	return current_mode == MODE_COUNT ? 0 : 2;
}

char LICENSE[] SEC("license") = "GPL";
