/* Every map in the kernel, one a line: "ID TYPE NAME", read from inside the kernel by an
 * iterator. The tests attribute kernel objects with it (tests/support.py): reading a map's
 * info from user space needs BPF_MAP_GET_FD_BY_ID, which takes a user reference, and taking
 * one on a prog array whose last user reference just went races with the kernel's deferred
 * clear of its slots (seen on 6.18: the map is never freed). The iterator takes none. */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_tracing.h>

char LICENSE[] SEC("license") = "GPL";

SEC("iter/bpf_map")
int list_maps(struct bpf_iter__bpf_map *ctx)
{
	struct bpf_map *map = ctx->map;

	if (map)
		BPF_SEQ_PRINTF(ctx->meta->seq, "%u %u %s\n", map->id, map->map_type, map->name);
	return 0;
}
