// SPDX-License-Identifier: MIT
/*
 * Peer kselftest-rseq: the restartable sequences of the kernel's own rseq
 * selftest (tools/testing/selftests/rseq/rseq.h and its x86 headers, the
 * same sequences as librseq), used the way its tests use them.
 *
 * How it is built (bench/bench.mk, never copied into this tree): at bench
 * time the selftest directory, tools/testing/selftests/kselftest.h and
 * tools/include are extracted from Debian's linux-source-6.12
 * (/usr/src/linux-source-6.12.tar.xz) into $(B)/bench/kselftest-rseq/;
 * its rseq.c (the registration: with glibc >= 2.35 it adopts glibc's
 * area through __rseq_offset / __rseq_size and registers nothing itself)
 * is compiled from there with -I tools/include, and this file includes
 * its rseq.h through -isystem, so the selftest's own code is built with
 * its own flags and not held to our -Werror.
 *
 * counter_add:      rseq_addv(RSEQ_MO_RELAXED, RSEQ_PERCPU_CPU_ID) on a
 *                   per-CPU array of 128-byte entries, the CPU number from
 *                   rseq_cpu_start(), retried until it commits: exactly
 *                   param_test's "-T i" loop.
 * counter_add_4:    four such increments per iteration, on four counters
 *                   of the CPU's entry (bench_counter.c's shape: four
 *                   independent ops, each with its own CPU read).
 * cache_alloc_free: a per-CPU free list of 64-byte objects, popped with
 *                   rseq_cmpnev_storeoffp_load and pushed with
 *                   rseq_cmpeqv_storev, the shape of the selftest's
 *                   basic_percpu_ops_test.c (list written here).  Each
 *                   CPU's list starts with LIST_FILL objects; pinned
 *                   threads free on the CPU they allocated on, so no list
 *                   runs dry (a dry list is reported as a failure).
 *
 * The per-CPU arrays start 256 bytes into a page: with the hot word at
 * page offset 0 the cpu_id load can stall behind the previous store
 * (4 KiB aliasing with glibc's rseq area, /work/shared/NOTES.md), which
 * would penalize the peer for our layout choice.
 */
#include "bench.h"

#include <stddef.h>
#include <rseq.h>

#define MAX_CPUS	1024
#define LIST_FILL	256
#define OBJ_SIZE	64

struct entry {
	intptr_t v[4];
} __attribute__((aligned(128)));

struct node {
	struct node *next;
	char payload[OBJ_SIZE - sizeof(struct node *)];
};

struct head {
	struct node *head;
} __attribute__((aligned(128)));

static struct {
	char pad[256];
	struct entry c[MAX_CPUS];
	struct head list[MAX_CPUS];
} d __attribute__((aligned(4096)));

static struct node *nodes;
static long nr_nodes;

/* One increment of this CPU's word j, retried until it commits. */
static inline void ks_inc(int j)
{
	int ret, cpu;

	do {
		cpu = (int)rseq_cpu_start();
		ret = rseq_addv(RSEQ_MO_RELAXED, RSEQ_PERCPU_CPU_ID,
				&d.c[cpu].v[j], 1, cpu);
	} while (rseq_unlikely(ret));
}

static void add_loop(void *x, int tid, long n)
{
	(void)x;
	(void)tid;
	for (long i = 0; i < n; i++)
		ks_inc(0);
}

static void add4_loop(void *x, int tid, long n)
{
	(void)x;
	(void)tid;
	for (long i = 0; i < n; i++) {
		ks_inc(0);
		ks_inc(1);
		ks_inc(2);
		ks_inc(3);
	}
}

static int add_verify(void *x, long ops)
{
	long sum = 0;

	(void)x;
	for (int c = 0; c < MAX_CPUS; c++)
		for (int j = 0; j < 4; j++) {
			sum += d.c[c].v[j];
			d.c[c].v[j] = 0;
		}
	if (sum != ops)
		fprintf(stderr, "expected %ld, observed %ld\n", ops, sum);
	return sum != ops;
}

/* Pop: if this CPU's head is not NULL, head = head->next, one sequence.
 * Returns NULL only when the list is empty. */
static inline struct node *list_pop(void)
{
	for (;;) {
		intptr_t got;
		int cpu = (int)rseq_cpu_start();
		int ret = rseq_cmpnev_storeoffp_load(RSEQ_MO_RELAXED,
				RSEQ_PERCPU_CPU_ID,
				(intptr_t *)&d.list[cpu].head, (intptr_t)NULL,
				offsetof(struct node, next), &got, cpu);

		if (rseq_likely(!ret))
			return (struct node *)got;
		if (ret > 0)
			return NULL;
		/* aborted (preempted, migrated, signal): again */
	}
}

/* Push: link to the head we read, commit if it is still the head. */
static inline void list_push(struct node *n)
{
	for (;;) {
		int cpu = (int)rseq_cpu_start();
		intptr_t expect = (intptr_t)RSEQ_READ_ONCE(d.list[cpu].head);

		n->next = (struct node *)expect;
		if (rseq_likely(!rseq_cmpeqv_storev(RSEQ_MO_RELAXED,
				RSEQ_PERCPU_CPU_ID,
				(intptr_t *)&d.list[cpu].head, expect,
				(intptr_t)n, cpu)))
			return;
	}
}

static void cache_loop(void *x, int tid, long n)
{
	(void)x;
	for (long i = 0; i < n; i++) {
		struct node *o = list_pop();

		if (!o) {
			fprintf(stderr, "kselftest-rseq: a CPU's list ran "
				"dry\n");
			abort();
		}
		*(long *)o = tid;
		__asm__ __volatile__("" : : "r"(o) : "memory");
		list_push(o);
	}
}

static int cache_verify(void *x, long ops)
{
	long seen = 0;

	(void)x;
	(void)ops;
	for (int c = 0; c < MAX_CPUS; c++)
		for (struct node *n = d.list[c].head; n && seen <= nr_nodes;
		     n = n->next)
			seen++;
	if (seen != nr_nodes)
		fprintf(stderr, "expected %ld free objects, observed %ld\n",
			nr_nodes, seen);
	return seen != nr_nodes;
}

static void thread_init(void *x, int tid)
{
	(void)x;
	(void)tid;
	/* A no-op when glibc owns the registration (the selftest's rule). */
	if (rseq_register_current_thread() || rseq_current_cpu_raw() < 0) {
		fprintf(stderr, "kselftest-rseq: thread not registered\n");
		abort();
	}
}

static void thread_fini(void *x, int tid)
{
	(void)x;
	(void)tid;
	rseq_unregister_current_thread();
}

int main(int argc, char **argv)
{
	int counts[BENCH_MAX_COUNTS], rc = 0, ncpus = bench_ncpus();
	int nc = bench_thread_counts(counts);

	if (bench_mode(argc, argv) != BENCH_PEER)
		return 0;
	if (rseq_register_current_thread() || rseq_current_cpu_raw() < 0)
		bench_skip("kselftest-rseq: no rseq registration (kernel "
			   "without rseq, or glibc.pthread.rseq=0)");
	if (ncpus > MAX_CPUS)
		bench_skip("kselftest-rseq: more CPUs than the bench's array");
	nr_nodes = (long)ncpus * LIST_FILL;
	nodes = aligned_alloc(64, (size_t)nr_nodes * sizeof(*nodes));
	if (!nodes)
		return 1;
	for (long i = 0; i < nr_nodes; i++) {
		struct head *h = &d.list[i % ncpus];

		nodes[i].next = h->head;
		h->head = &nodes[i];
	}
	for (int k = 0; k < nc; k++) {
		struct bench b = {
			.impl = "kselftest-rseq",
			.kind = "peer",
			.threads = counts[k],
			.thread_init = thread_init,
			.thread_fini = thread_fini,
		};

		b.bench = "counter_add";
		b.loop = add_loop;
		b.verify = add_verify;
		rc |= bench_run(&b);
		b.bench = "counter_add_4";
		b.loop = add4_loop;
		b.ops_per_iter = 4;
		rc |= bench_run(&b);
		b.bench = "cache_alloc_free";
		b.loop = cache_loop;
		b.verify = cache_verify;
		b.ops_per_iter = 1;
		b.note = "per-CPU free list on the selftest's one-sequence "
			 "pop and push; no refill or drain path";
		rc |= bench_run(&b);
	}
	return rc ? 1 : 0;
}
