// Native baseline for bench/bench_events.py: load OBJ, then ROUNDS times have its `emit`
// program submit N records (BPF_PROG_TEST_RUN) and drain them with ring_buffer__consume and a
// callback that does nothing; print {"ns_per_record": median over rounds}. With "mmap N REPS":
// the cost of one bpf_map_lookup_elem on a new N-element u64 array ({"lookup_ns": ...}).
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "harness.h"

static int nothing(void *ctx, void *data, size_t size)
{
	return 0;
}

static int rounds_of_ringbuf(const char *path, int n, int rounds)
{
	struct bpf_object *obj = bpf_object__open_file(path, NULL);
	char packet[64] = {0};
	long long *t = calloc(rounds, sizeof(*t));

	if (libbpf_get_error(obj) || bpf_object__load(obj))
		return 1;
	int config = bpf_object__find_map_fd_by_name(obj, "config");
	int ring = bpf_object__find_map_fd_by_name(obj, "events");
	int prog = bpf_program__fd(bpf_object__find_program_by_name(obj, "emit"));
	__u32 zero = 0;
	__u64 count = n;
	struct ring_buffer *rb = ring_buffer__new(ring, nothing, NULL, NULL);

	bpf_map_update_elem(config, &zero, &count, BPF_ANY);
	for (int r = 0; r < rounds; r++) {
		LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = packet, .data_size_in = sizeof(packet));
		bpf_prog_test_run_opts(prog, &opts);
		long long start = now_ns();
		int got = ring_buffer__consume(rb);
		t[r] = (now_ns() - start) * 1000 / (got > 0 ? got : 1);
	}
	qsort(t, rounds, sizeof(*t), cmp_ll);
	printf("{\"ns_per_record\": %.2f}\n", t[rounds / 2] / 1000.0);
	ring_buffer__free(rb);
	bpf_object__close(obj);
	return 0;
}

static int lookups(int entries, int reps)
{
	LIBBPF_OPTS(bpf_map_create_opts, opts, .map_flags = BPF_F_MMAPABLE);
	int fd = bpf_map_create(BPF_MAP_TYPE_ARRAY, "bench", 4, 8, entries, &opts);
	__u64 value, sum = 0;

	if (fd < 0)
		return 1;
	long long start = now_ns();
	for (int i = 0; i < reps; i++) {
		__u32 key = i % entries;
		bpf_map_lookup_elem(fd, &key, &value);
		sum += value;
	}
	printf("{\"lookup_ns\": %.2f, \"sum\": %llu}\n", (double)(now_ns() - start) / reps, (unsigned long long)sum);
	return 0;
}

int main(int argc, char **argv)
{
	libbpf_set_print(warnings_only);
	if (argc == 5 && !strcmp(argv[1], "ringbuf"))
		return rounds_of_ringbuf(argv[2], atoi(argv[3]), atoi(argv[4]));
	if (argc == 4 && !strcmp(argv[1], "mmap"))
		return lookups(atoi(argv[2]), atoi(argv[3]));
	fprintf(stderr, "usage: %s ringbuf OBJ N ROUNDS | mmap N REPS\n", argv[0]);
	return 2;
}
