// SPDX-License-Identifier: GPL-2.0
/* An uprobe-multi program (libbpf >= 1.3's "uprobe.multi" section): it counts, per BPF cookie,
 * the calls the test's process makes to the functions it is attached to. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 64);
	__type(key, __u64);
	__type(value, __u64);
} hits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, __u32);
} target_tgid SEC(".maps");

SEC("uprobe.multi")
int p2_uprobe_multi(void *ctx)
{
	__u32 zero = 0;
	__u32 *tgid = bpf_map_lookup_elem(&target_tgid, &zero);
	__u64 cookie, one = 1, *value;

	if (!tgid || *tgid != bpf_get_current_pid_tgid() >> 32)
		return 0;
	cookie = bpf_get_attach_cookie(ctx);
	value = bpf_map_lookup_elem(&hits, &cookie);
	if (value)
		__sync_fetch_and_add(value, 1);
	else
		bpf_map_update_elem(&hits, &cookie, &one, BPF_NOEXIST);
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
