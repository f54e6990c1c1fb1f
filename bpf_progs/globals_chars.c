// SPDX-License-Identifier: GPL-2.0
/* Global char arrays nested in arrays and structs, for obj.globals writes: a list of bytes (or
 * str) for char grid[2][5], and a dict with a list for a struct's char tags[3][4]. copy_first
 * copies grid[0] into seen so the program's view is checked too. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct person {
	char name[8];
	char tags[3][4];
};

char grid[2][5];
struct person who;
char seen[5];

SEC("tc")
int copy_first(struct __sk_buff *skb)
{
	__builtin_memcpy(seen, grid[0], sizeof(seen));
	return 0;
}

char _license[] SEC("license") = "GPL";
