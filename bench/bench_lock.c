// SPDX-License-Identifier: MIT
/*
 * brlock_read: one read-side lock + unlock per op, an empty critical
 * section, every thread reading all the time (no writer).
 *
 * pcpu-<backend>: pcpu_brlock_read_lock / read_unlock (one this_cpu
 * increment, one load of the writer word, one this_cpu decrement, one
 * more load).  Baseline pthread-rwlock: pthread_rwlock_rdlock / unlock on
 * one shared lock (two atomic RMWs on one shared line).  Verified after
 * every run: the brlock's reader count is back to zero (exact sum over
 * copies) and a write lock can be taken.
 */
#include "bench.h"

static struct pcpu_brlock bl;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;

static void pcpu_loop(void *x, int tid, long n)
{
	(void)x;
	(void)tid;
	for (long i = 0; i < n; i++) {
		pcpu_brlock_read_lock(&bl);
		pcpu_brlock_read_unlock(&bl);
	}
}

static void rw_loop(void *x, int tid, long n)
{
	(void)x;
	(void)tid;
	for (long i = 0; i < n; i++) {
		pthread_rwlock_rdlock(&rw);
		pthread_rwlock_unlock(&rw);
	}
}

static int pcpu_verify(void *x, long ops)
{
	unsigned long sum = bl.undo;
	unsigned int cpu;

	(void)x;
	(void)ops;
	pcpu_for_each_cpu(cpu)
		sum += *pcpu_ptr(bl.readers, cpu);
	if (sum)
		fprintf(stderr, "expected 0 readers inside, observed %lu\n",
			sum);
	pcpu_brlock_write_lock(&bl);
	pcpu_brlock_write_unlock(&bl);
	return sum != 0;
}

int main(int argc, char **argv)
{
	int pcpu = bench_mode_pcpu(argc, argv);
	int counts[3], nc = bench_thread_counts(counts), rc = 0;

	if (pcpu && pcpu_brlock_init(&bl)) {
		perror("pcpu_brlock_init");
		return 1;
	}
	for (int k = 0; k < nc; k++) {
		struct bench b = {
			.bench = "brlock_read",
			.threads = counts[k],
		};

		b.impl = pcpu ? bench_pcpu_impl() : "pthread-rwlock";
		b.loop = pcpu ? pcpu_loop : rw_loop;
		b.verify = pcpu ? pcpu_verify : NULL;
		rc |= bench_run(&b);
	}
	return rc ? 1 : 0;
}
