// Native baseline for bench/bench_iproute2.py: open, load and close OBJ REPS times with the
// system's libbpf and print {"first_ns": ..., "median_ns": ...} (steady state, after the first).
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <bpf/libbpf.h>
#include "harness.h"

int main(int argc, char **argv)
{
	if (argc != 3) {
		fprintf(stderr, "usage: %s OBJ REPS\n", argv[0]);
		return 2;
	}
	int reps = atoi(argv[2]);
	long long *t = calloc(reps, sizeof(*t));

	libbpf_set_print(warnings_only);
	for (int i = 0; i < reps; i++) {
		long long start = now_ns();
		struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);

		if (libbpf_get_error(obj) || bpf_object__load(obj)) {
			fprintf(stderr, "cannot load %s\n", argv[1]);
			return 1;
		}
		bpf_object__close(obj);
		t[i] = now_ns() - start;
	}
	long long first = t[0];

	qsort(t + 1, reps - 1, sizeof(*t), cmp_ll);
	printf("{\"first_ns\": %lld, \"median_ns\": %lld}\n", first, t[1 + (reps - 1) / 2]);
	return 0;
}
