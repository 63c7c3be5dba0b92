// SPDX-License-Identifier: MIT
/*
 * Object allocation, 64-byte objects.
 *
 * cache_alloc_free:   one allocation and its free per op, on the same
 *                     thread (the common short-lived object).
 * cache_xthread_free: the object is allocated on one thread and freed on
 *                     another: threads work in pairs, the producer
 *                     (even tid) allocates, writes the object and passes
 *                     it through a 64-slot single-producer single-consumer
 *                     queue (batched, see produce()) to its partner (the
 *                     next tid, pinned to the next CPU), which reads it
 *                     and frees it.  An op is one object's whole life
 *                     (both threads' work), so ns_per_op is comparable
 *                     with cache_alloc_free; 1 thread has no partner and
 *                     is not measured.  The queue costs every impl alike
 *                     (about 45 ns per object here with no allocator at
 *                     all: the object's line moves between the CPUs);
 *                     what differs is what the allocator does when one
 *                     CPU only allocates and another only frees (refill
 *                     and drain paths).
 *
 * pcpu-<backend>: pcpu_cache_alloc / pcpu_cache_free on a cache created
 * with the default per-CPU capacity.  Peers: malloc(64) / free of the
 * allocator this binary is linked with.  The same file is built three
 * times (bench/bench.mk): bench_cache with glibc's malloc (and the pcpu
 * rows), peer_cache_jemalloc linked with -ljemalloc and
 * peer_cache_tcmalloc with gperftools' -ltcmalloc; both replace malloc for
 * the whole process, as an application that links them does.
 * BENCH_ALLOCATOR names the allocator (default glibc-malloc).
 *
 * The object is written once so that no impl can skip touching it.
 * Verified after every run for the cache: its census says nothing is
 * allocated.
 */
#include "bench.h"

#include <stdatomic.h>

#ifndef BENCH_ALLOCATOR
#define BENCH_ALLOCATOR	"glibc-malloc"
#endif

#define SIZE	64
#define MAXT	256
#define QLEN	64	/* power of two */

static struct pcpu_cache *cache;

/* One pair's queue: producer and consumer indices on their own lines. */
struct spsc {
	_Alignas(64) atomic_ulong head;		/* next slot to fill */
	_Alignas(64) atomic_ulong tail;		/* next slot to empty */
	_Alignas(64) void *slot[QLEN];
};

static struct spsc queues[MAXT / 2];

/* Inlined, as an application's calls to the cache are (its fast paths
 * are inline functions of cache.h); malloc's are calls in any case. */
static inline __attribute__((always_inline)) void *pcpu_get(void)
{
	return pcpu_cache_alloc(cache);
}

static inline __attribute__((always_inline)) void pcpu_put(void *o)
{
	pcpu_cache_free(cache, o);
}

static void *malloc_get(void)
{
	return malloc(SIZE);
}

static void malloc_put(void *o)
{
	free(o);
}

struct impl {
	void *(*get)(void);
	void (*put)(void *);
};

static const struct impl pcpu_impl = { pcpu_get, pcpu_put };
static const struct impl malloc_impl = { malloc_get, malloc_put };

/* static inline + a constant impl: the calls are direct after inlining. */
static inline void same_thread(const struct impl *m, int tid, long n)
{
	for (long i = 0; i < n; i++) {
		long *o = m->get();

		*o = tid;
		__asm__ __volatile__("" : : "r"(o) : "memory");
		m->put(o);
	}
}

/* Spin a little, then let the partner (or another pair) run: with 16
 * threads on 2 CPUs the partner is often preempted. */
static inline void queue_wait(int *spins)
{
	if (++*spins < 64) {
		bench_cpu_relax();
		return;
	}
	*spins = 0;
	sched_yield();
}

/*
 * The queue moves objects in batches of BATCH: the producer publishes its
 * index once per batch and the consumer takes all it sees before
 * publishing its own, so the two index lines cross between the CPUs once
 * per batch instead of once per object and the queue's own cost stays
 * small next to the allocator's.
 */
#define BATCH	16

static inline void produce(const struct impl *m, struct spsc *q, long n)
{
	unsigned long h = atomic_load_explicit(&q->head, memory_order_relaxed);
	unsigned long t = atomic_load_explicit(&q->tail, memory_order_acquire);
	int spins = 0;

	for (long i = 0; i < n; i++) {
		long *o = m->get();

		*o = i;
		while (h - t >= QLEN) {
			queue_wait(&spins);
			/* Acquire: the consumer is done with the slots it
			 * gave back; pairs with its release of tail. */
			t = atomic_load_explicit(&q->tail,
						 memory_order_acquire);
		}
		q->slot[h++ % QLEN] = o;
		/* Release: the slots (and the objects' contents) before
		 * the index; pairs with the consumer's acquire. */
		if (!(h % BATCH) || i + 1 == n)
			atomic_store_explicit(&q->head, h,
					      memory_order_release);
	}
}

static inline void consume(const struct impl *m, struct spsc *q, long n)
{
	unsigned long t = atomic_load_explicit(&q->tail, memory_order_relaxed);
	int spins = 0;

	for (long i = 0; i < n;) {
		unsigned long h = atomic_load_explicit(&q->head,
						       memory_order_acquire);

		if (h == t) {
			queue_wait(&spins);
			continue;
		}
		for (; t != h; t++, i++) {
			long *o = q->slot[t % QLEN];

			if (*o != i)
				abort();	/* lost or reordered */
			m->put(o);
		}
		/* Release: our reads of the slots before the producer
		 * reuses them; pairs with its acquire of tail. */
		atomic_store_explicit(&q->tail, t, memory_order_release);
	}
}

static inline void cross_thread(const struct impl *m, int tid, long n)
{
	struct spsc *q = &queues[(tid / 2) % (MAXT / 2)];

	if (tid & 1)
		consume(m, q, n);
	else
		produce(m, q, n);
}

static void pcpu_loop(void *x, int tid, long n)
{
	(void)x;
	same_thread(&pcpu_impl, tid, n);
}

static void malloc_loop(void *x, int tid, long n)
{
	(void)x;
	same_thread(&malloc_impl, tid, n);
}

static void pcpu_xloop(void *x, int tid, long n)
{
	(void)x;
	cross_thread(&pcpu_impl, tid, n);
}

static void malloc_xloop(void *x, int tid, long n)
{
	(void)x;
	cross_thread(&malloc_impl, tid, n);
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
	int pcpu = bench_mode(argc, argv) == BENCH_PCPU;
	int counts[BENCH_MAX_COUNTS], rc = 0;
	int nc = bench_thread_counts(counts);

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
			.kind = pcpu ? "ours" : "peer",
		};

		b.impl = pcpu ? bench_pcpu_impl() : BENCH_ALLOCATOR;
		b.loop = pcpu ? pcpu_loop : malloc_loop;
		b.verify = pcpu ? pcpu_verify : NULL;
		rc |= bench_run(&b);
		b.bench = "cache_xthread_free";
		b.loop = pcpu ? pcpu_xloop : malloc_xloop;
		b.group = 2;
		rc |= bench_run(&b);
	}
	return rc ? 1 : 0;
}
