// The native side of bench_attach.py: attach+detach pairs of an XDP link and a tcx link through
// libbpf, timed in C. Usage: native_attach OBJ IFINDEX REPS; prints one JSON object with the
// median ns per pair. Run inside the network namespace whose device IFINDEX names.
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include "harness.h"
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#define TCX_INGRESS 46 /* enum bpf_attach_type: BPF_TCX_INGRESS (newer headers than Debian 12's) */

static long long median(long long *t, int n)
{
	qsort(t, n, sizeof(*t), cmp_ll);
	return t[n / 2];
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s OBJ IFINDEX REPS\n", argv[0]);
		return 2;
	}
	int ifindex = atoi(argv[2]), reps = atoi(argv[3]);
	long long *t = calloc(reps, sizeof(*t));

	libbpf_set_print(warnings_only);
	struct bpf_object *obj = bpf_object__open_file(argv[1], NULL);
	if (!obj || bpf_object__load(obj)) {
		fprintf(stderr, "cannot load %s\n", argv[1]);
		return 1;
	}
	struct bpf_program *xdp = bpf_object__find_program_by_name(obj, "xdp_drop_udp");
	struct bpf_program *tc = bpf_object__find_program_by_name(obj, "tc_count_udp");

	for (int i = 0; i < reps; i++) {
		long long start = now_ns();
		struct bpf_link *link = bpf_program__attach_xdp(xdp, ifindex);

		if (!link) {
			perror("bpf_program__attach_xdp");
			return 1;
		}
		bpf_link__destroy(link);
		t[i] = now_ns() - start;
	}
	long long xdp_ns = median(t, reps);

	for (int i = 0; i < reps; i++) {
		long long start = now_ns();
		int fd = bpf_link_create(bpf_program__fd(tc), ifindex, TCX_INGRESS, NULL);

		if (fd < 0) {
			fprintf(stderr, "bpf_link_create(tcx): %d\n", fd);
			return 1;
		}
		close(fd);
		t[i] = now_ns() - start;
	}
	printf("{\"xdp\": %lld, \"tcx\": %lld}\n", xdp_ns, median(t, reps));
	bpf_object__close(obj);
	return 0;
}
