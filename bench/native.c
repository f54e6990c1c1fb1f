/* Native baseline for bench_maps.py: the same map operations, called from C.
 *
 * Build: gcc -O2 bench/native.c -lbpf -o bench/build/native
 * Run:   bench/build/native REPS [ENTRIES]      (as root; ENTRIES defaults to 100000)
 *
 * For a BPF_MAP_TYPE_HASH and a BPF_MAP_TYPE_ARRAY map (u32 key -> u64 value,
 * ENTRIES entries, fully populated first) it times, in ns per element:
 *   lookup        bpf_map_lookup_elem on every key
 *   update        bpf_map_update_elem(BPF_ANY) on every key
 *   delete        bpf_map_delete_elem on every key (hash only; the map is
 *                 re-populated afterwards, untimed)
 *   lookup_batch  bpf_map_lookup_batch over the whole map, batch size = ENTRIES,
 *                 called until -ENOENT, divided by the entries read
 *   update_batch  one bpf_map_update_batch of every entry, divided by ENTRIES
 * Keys are visited in order 0..ENTRIES-1. Each operation is repeated REPS times
 * (after one untimed warm-up lookup pass) and the median is printed as JSON:
 *   {"hash": {"lookup": ns, ...}, "array": {...}}
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <bpf/bpf.h>
#include <linux/bpf.h>

enum { OP_LOOKUP, OP_UPDATE, OP_DELETE, OP_LOOKUP_BATCH, OP_UPDATE_BATCH, N_OPS };
static const char *const op_names[N_OPS] = {"lookup", "update", "delete", "lookup_batch", "update_batch"};

static volatile __u64 sink; /* keeps the values read observable */

static void die(const char *what, int ret)
{
	fprintf(stderr, "native: %s failed: %s\n", what, strerror(ret < 0 ? -ret : ret));
	exit(1);
}

static long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

static double median(double *samples, int n)
{
	qsort(samples, n, sizeof(*samples), cmp_double);
	return n % 2 ? samples[n / 2] : (samples[n / 2 - 1] + samples[n / 2]) / 2.0;
}

struct bench {
	int fd;
	__u32 n;
	__u32 *keys;     /* 0..n-1 */
	__u64 *vals;     /* what updates write */
	__u32 *out_keys; /* lookup_batch output, n entries */
	__u64 *out_vals;
};

static void populate(struct bench *b)
{
	__u32 count = b->n;
	int ret = bpf_map_update_batch(b->fd, b->keys, b->vals, &count, NULL);

	if (ret < 0)
		die("bpf_map_update_batch (populate)", ret);
	if (count != b->n) {
		fprintf(stderr, "native: populate wrote %u of %u entries\n", count, b->n);
		exit(1);
	}
}

static void run_lookup(struct bench *b)
{
	__u64 value, sum = 0;

	for (__u32 i = 0; i < b->n; i++) {
		int ret = bpf_map_lookup_elem(b->fd, &b->keys[i], &value);

		if (ret < 0)
			die("bpf_map_lookup_elem", ret);
		sum += value;
	}
	sink = sum;
}

static void run_update(struct bench *b)
{
	for (__u32 i = 0; i < b->n; i++) {
		int ret = bpf_map_update_elem(b->fd, &b->keys[i], &b->vals[i], BPF_ANY);

		if (ret < 0)
			die("bpf_map_update_elem", ret);
	}
}

static void run_delete(struct bench *b)
{
	for (__u32 i = 0; i < b->n; i++) {
		int ret = bpf_map_delete_elem(b->fd, &b->keys[i]);

		if (ret < 0)
			die("bpf_map_delete_elem", ret);
	}
}

/* Returns the number of entries read. */
static __u32 run_lookup_batch(struct bench *b)
{
	__u32 token = 0, total = 0;
	void *in_batch = NULL;
	__u64 sum = 0;

	for (;;) {
		__u32 count = b->n;
		int ret = bpf_map_lookup_batch(b->fd, in_batch, &token, b->out_keys, b->out_vals, &count, NULL);

		if (ret < 0 && ret != -ENOENT)
			die("bpf_map_lookup_batch", ret);
		for (__u32 i = 0; i < count; i++)
			sum += b->out_vals[i];
		total += count;
		if (ret == -ENOENT)
			break;
		in_batch = &token;
	}
	sink = sum;
	return total;
}

static void run_update_batch(struct bench *b)
{
	__u32 count = b->n;
	int ret = bpf_map_update_batch(b->fd, b->keys, b->vals, &count, NULL);

	if (ret < 0)
		die("bpf_map_update_batch", ret);
}

static void bench_map(enum bpf_map_type type, const char *name, __u32 n, int reps, double result[N_OPS])
{
	struct bench b = {.n = n};
	double *samples[N_OPS];
	int with_delete = type != BPF_MAP_TYPE_ARRAY;

	b.keys = malloc(n * sizeof(*b.keys));
	b.vals = malloc(n * sizeof(*b.vals));
	b.out_keys = malloc(n * sizeof(*b.out_keys));
	b.out_vals = malloc(n * sizeof(*b.out_vals));
	for (int op = 0; op < N_OPS; op++)
		samples[op] = malloc(reps * sizeof(double));
	if (!b.keys || !b.vals || !b.out_keys || !b.out_vals)
		die("malloc", ENOMEM);
	for (__u32 i = 0; i < n; i++) {
		b.keys[i] = i;
		b.vals[i] = (__u64)i * 2654435761u;
	}

	b.fd = bpf_map_create(type, name, sizeof(__u32), sizeof(__u64), n, NULL);
	if (b.fd < 0)
		die("bpf_map_create", b.fd);
	populate(&b);
	run_lookup(&b); /* warm-up */

	for (int rep = 0; rep < reps; rep++) {
		long long t0, t1;
		__u32 read;

		t0 = now_ns();
		run_lookup(&b);
		t1 = now_ns();
		samples[OP_LOOKUP][rep] = (double)(t1 - t0) / n;

		t0 = now_ns();
		run_update(&b);
		t1 = now_ns();
		samples[OP_UPDATE][rep] = (double)(t1 - t0) / n;

		if (with_delete) {
			t0 = now_ns();
			run_delete(&b);
			t1 = now_ns();
			samples[OP_DELETE][rep] = (double)(t1 - t0) / n;
			populate(&b);
		}

		t0 = now_ns();
		read = run_lookup_batch(&b);
		t1 = now_ns();
		if (read != n) {
			fprintf(stderr, "native: lookup_batch read %u of %u entries\n", read, n);
			exit(1);
		}
		samples[OP_LOOKUP_BATCH][rep] = (double)(t1 - t0) / read;

		t0 = now_ns();
		run_update_batch(&b);
		t1 = now_ns();
		samples[OP_UPDATE_BATCH][rep] = (double)(t1 - t0) / n;
	}

	for (int op = 0; op < N_OPS; op++) {
		result[op] = (op == OP_DELETE && !with_delete) ? -1.0 : median(samples[op], reps);
		free(samples[op]);
	}
	close(b.fd);
	free(b.keys);
	free(b.vals);
	free(b.out_keys);
	free(b.out_vals);
}

static void print_map(const char *label, const double result[N_OPS], int last)
{
	int first = 1;

	printf("\"%s\": {", label);
	for (int op = 0; op < N_OPS; op++) {
		if (result[op] < 0)
			continue;
		printf("%s\"%s\": %.2f", first ? "" : ", ", op_names[op], result[op]);
		first = 0;
	}
	printf("}%s", last ? "" : ", ");
}

int main(int argc, char **argv)
{
	double hash[N_OPS], array[N_OPS];
	char *end;
	long reps, entries = 100000;

	if (argc < 2 || argc > 3) {
		fprintf(stderr, "usage: %s REPS [ENTRIES]\n", argv[0]);
		return 2;
	}
	reps = strtol(argv[1], &end, 10);
	if (*end || reps < 1 || reps > 100000) {
		fprintf(stderr, "native: REPS must be a positive integer\n");
		return 2;
	}
	if (argc == 3) {
		entries = strtol(argv[2], &end, 10);
		if (*end || entries < 1 || entries > 100000000) {
			fprintf(stderr, "native: ENTRIES must be a positive integer\n");
			return 2;
		}
	}

	bench_map(BPF_MAP_TYPE_HASH, "bench_hash", (__u32)entries, (int)reps, hash);
	bench_map(BPF_MAP_TYPE_ARRAY, "bench_array", (__u32)entries, (int)reps, array);

	printf("{");
	print_map("hash", hash, 0);
	print_map("array", array, 1);
	printf("}\n");
	return 0;
}
