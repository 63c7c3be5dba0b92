// SPDX-License-Identifier: MIT
/*
 * cache_alloc_free: one allocation of a 64-byte object and its free per
 * op, on the same thread (the common short-lived object).
 *
 * pcpu-<backend>: pcpu_cache_alloc / pcpu_cache_free.  Baseline
 * glibc-malloc: malloc(64) / free in the same run.  The object is written
 * once so that neither side can skip touching it.  Verified after every
 * run for the cache: the census says nothing is allocated.
 */
#include "bench.h"

#define SIZE	64

static struct pcpu_cache *cache;

static void pcpu_loop(void *x, int tid, long n)
{
	(void)x;
	for (long i = 0; i < n; i++) {
		long *o = pcpu_cache_alloc(cache);

		*o = tid;
		__asm__ __volatile__("" : : "r"(o) : "memory");
		pcpu_cache_free(cache, o);
	}
}

static void malloc_loop(void *x, int tid, long n)
{
	(void)x;
	for (long i = 0; i < n; i++) {
		long *o = malloc(SIZE);

		*o = tid;
		__asm__ __volatile__("" : : "r"(o) : "memory");
		free(o);
	}
}

static int pcpu_verify(void *x, long ops)
{
	struct pcpu_cache_stats st;

	(void)x;
	(void)ops;
	if (pcpu_cache_stats(cache, &st) || st.allocated) {
		fprintf(stderr, "expected 0 allocated, observed %llu\n",
			(unsigned long long)st.allocated);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv)
{
	int pcpu = bench_mode_pcpu(argc, argv);
	int counts[3], nc = bench_thread_counts(counts), rc = 0;

	if (pcpu) {
		cache = pcpu_cache_create(SIZE, 0, 1 << 16, 0);
		if (!cache) {
			perror("pcpu_cache_create");
			return 1;
		}
	}
	for (int k = 0; k < nc; k++) {
		struct bench b = {
			.bench = "cache_alloc_free",
			.threads = counts[k],
		};

		b.impl = pcpu ? bench_pcpu_impl() : "glibc-malloc";
		b.loop = pcpu ? pcpu_loop : malloc_loop;
		b.verify = pcpu ? pcpu_verify : NULL;
		rc |= bench_run(&b);
	}
	return rc ? 1 : 0;
}
