// SPDX-License-Identifier: MIT
/*
 * counter_add:   one counter incremented by every thread, one increment
 *                per iteration: a chain of dependent read-modify-writes on
 *                one word (latency-bound).
 * counter_add_4: four different counters per iteration (throughput-bound:
 *                instruction count shows, store forwarding hides).  ns_per_op
 *                is per increment.
 * counter_add_batched: pcpu_counter_inc(), the kernel-style batched counter
 *                with an O(1) approximate read.
 *
 * pcpu-<backend>: this_cpu_inc() on a per-CPU long (value = sum of copies,
 * verified exact after every repetition).  Baselines: tls-plain (__thread
 * long incremented in place: one %fs-relative add, no atomicity, merged by
 * hand), ptr-plain (the same through a register address), shared-atomic
 * (one atomic_fetch_add for all threads), thread-padded-atomic (one
 * cache-line-padded atomic per thread).  The peers (Concurrency Kit's
 * ck_pr, the kernel's rseq selftest) are in peer_ck.c and
 * peer_kselftest_rseq.c: they need packages this file must not.
 */
#include "bench.h"

#include <stdatomic.h>

#define MAXT		256
#define BARRIER()	__asm__ __volatile__("" : : : "memory")

struct ctx {
	long *pc[4];			/* per-CPU handles */
	struct pcpu_counter counter;
	_Alignas(64) atomic_long shared[4 * 8];	/* 4 counters, 64 B apart */
	struct {
		_Alignas(64) atomic_long v[4];
	} padded[MAXT];
	struct {
		_Alignas(64) long v[4];
	} plain[MAXT];
};

static struct ctx c;
static __thread long tls0, tls1, tls2, tls3;

static void pcpu_add(void *x, int tid, long n)
{
	long *p = ((struct ctx *)x)->pc[0];

	(void)tid;
	for (long i = 0; i < n; i++)
		this_cpu_inc(p);
}

static void pcpu_add4(void *x, int tid, long n)
{
	struct ctx *k = (struct ctx *)x;
	long *a = k->pc[0], *b = k->pc[1], *d = k->pc[2], *e = k->pc[3];

	(void)tid;
	for (long i = 0; i < n; i++) {
		this_cpu_inc(a);
		this_cpu_inc(b);
		this_cpu_inc(d);
		this_cpu_inc(e);
	}
}

static void pcpu_batched(void *x, int tid, long n)
{
	struct pcpu_counter *pc = &((struct ctx *)x)->counter;

	(void)tid;
	for (long i = 0; i < n; i++)
		pcpu_counter_inc(pc);
}

static int pcpu_verify(void *x, long ops)
{
	struct ctx *k = (struct ctx *)x;
	long sum = 0;
	unsigned int cpu;

	for (int j = 0; j < 4; j++) {
		pcpu_for_each_cpu(cpu) {
			sum += *pcpu_ptr(k->pc[j], cpu);
			*pcpu_ptr(k->pc[j], cpu) = 0;
		}
	}
	sum += pcpu_counter_sum(&k->counter);
	pcpu_counter_set(&k->counter, 0);
	if (sum != ops)
		fprintf(stderr, "expected %ld, observed %ld\n", ops, sum);
	return sum != ops;
}

/* The barrier keeps each increment a real memory add, as in real code
 * where the counter is bumped between other work. */
static void tls_add(void *x, int tid, long n)
{
	(void)x;
	(void)tid;
	for (long i = 0; i < n; i++) {
		tls0++;
		BARRIER();
	}
}

static void tls_add4(void *x, int tid, long n)
{
	(void)x;
	(void)tid;
	for (long i = 0; i < n; i++) {
		tls0++;
		tls1++;
		tls2++;
		tls3++;
		BARRIER();
	}
}

static void ptr_add(void *x, int tid, long n)
{
	long *v = ((struct ctx *)x)->plain[tid % MAXT].v;

	for (long i = 0; i < n; i++) {
		v[0]++;
		BARRIER();
	}
}

static void ptr_add4(void *x, int tid, long n)
{
	long *v = ((struct ctx *)x)->plain[tid % MAXT].v;

	for (long i = 0; i < n; i++) {
		v[0]++;
		v[1]++;
		v[2]++;
		v[3]++;
		BARRIER();
	}
}

static void shared_add(void *x, int tid, long n)
{
	atomic_long *s = ((struct ctx *)x)->shared;

	(void)tid;
	for (long i = 0; i < n; i++)
		atomic_fetch_add_explicit(&s[0], 1, memory_order_relaxed);
}

static void shared_add4(void *x, int tid, long n)
{
	atomic_long *s = ((struct ctx *)x)->shared;

	(void)tid;
	for (long i = 0; i < n; i++) {
		atomic_fetch_add_explicit(&s[0], 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&s[8], 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&s[16], 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&s[24], 1, memory_order_relaxed);
	}
}

static void padded_add(void *x, int tid, long n)
{
	atomic_long *v = ((struct ctx *)x)->padded[tid % MAXT].v;

	for (long i = 0; i < n; i++)
		atomic_fetch_add_explicit(&v[0], 1, memory_order_relaxed);
}

static void padded_add4(void *x, int tid, long n)
{
	atomic_long *v = ((struct ctx *)x)->padded[tid % MAXT].v;

	for (long i = 0; i < n; i++) {
		atomic_fetch_add_explicit(&v[0], 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&v[1], 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&v[2], 1, memory_order_relaxed);
		atomic_fetch_add_explicit(&v[3], 1, memory_order_relaxed);
	}
}

struct variant {
	const char *impl;
	void (*one)(void *, int, long);
	void (*four)(void *, int, long);
};

int main(int argc, char **argv)
{
	int pcpu = bench_mode(argc, argv) == BENCH_PCPU;
	static const struct variant base[] = {
		{ "tls-plain", tls_add, tls_add4 },
		{ "ptr-plain", ptr_add, ptr_add4 },
		{ "shared-atomic", shared_add, shared_add4 },
		{ "thread-padded-atomic", padded_add, padded_add4 },
	};
	int counts[BENCH_MAX_COUNTS], rc = 0;
	int nc = bench_thread_counts(counts);

	if (pcpu) {
		for (int j = 0; j < 4; j++)
			c.pc[j] = PCPU_ALLOC(long);
		if (pcpu_counter_init(&c.counter, 0, 0))
			return 1;
	}
	for (int k = 0; k < nc; k++) {
		struct bench b = { .threads = counts[k], .ctx = &c };

		if (pcpu) {
			b.impl = bench_pcpu_impl();
			b.verify = pcpu_verify;
			b.bench = "counter_add";
			b.loop = pcpu_add;
			rc |= bench_run(&b);
			b.bench = "counter_add_4";
			b.loop = pcpu_add4;
			b.ops_per_iter = 4;
			rc |= bench_run(&b);
			b.bench = "counter_add_batched";
			b.loop = pcpu_batched;
			b.ops_per_iter = 1;
			rc |= bench_run(&b);
			continue;
		}
		for (size_t v = 0; v < sizeof(base) / sizeof(base[0]); v++) {
			b.impl = base[v].impl;
			b.bench = "counter_add";
			b.loop = base[v].one;
			b.ops_per_iter = 1;
			rc |= bench_run(&b);
			b.bench = "counter_add_4";
			b.loop = base[v].four;
			b.ops_per_iter = 4;
			rc |= bench_run(&b);
		}
	}
	return rc ? 1 : 0;
}
