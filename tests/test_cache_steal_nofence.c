// SPDX-License-Identifier: MIT
/*
 * A steal whose fence fails (ENOTSUP: no membarrier, and the CPU outside
 * the thief's affinity) must leave the slab as the CPU left it.  The
 * thief has already marked the count stopped; a sequence on that CPU that
 * compared the count before the mark may commit after it (a pop: count
 * n - 1, obj[n - 1] handed out), overwriting the mark.  An undo that puts
 * n back would make obj[n - 1] both allocated and free: handed out twice.
 *
 * Deterministic: this program defines pcpu_cs_fence(), which the shared
 * library's call resolves to (the executable comes first in the lookup
 * order).  Armed, it plays that sequence's commit on the stopped slab and
 * fails with ENOTSUP; otherwise it forwards to the library's.  Weak, so
 * that a static link takes the library's own and the test skips.
 */
#define _GNU_SOURCE
#include "harness.h"

#include <dlfcn.h>

#define MAX	64

static struct pcpu_cache *cache;
static int armed, called;
static intptr_t held;		/* the object the played commit took */
static intptr_t left_n;		/* the count that commit left */
static unsigned int victim;

__attribute__((weak)) int pcpu_cs_fence(unsigned int cpu)
{
	static int (*real)(unsigned int);
	struct pcpu__cache_slab *s;
	intptr_t v, n;

	called = 1;
	if (armed && cpu < pcpu_nr_copies()) {
		s = pcpu_ptr(cache->slabs, cpu);
		v = __atomic_load_n(&s->n, __ATOMIC_RELAXED);
		n = v & ~PCPU__CACHE_STOP;
		if ((v & PCPU__CACHE_STOP) && n > 0) {
			/* The pop that compared n before the mark commits
			 * now: it took obj[n - 1] (a plain store, as a
			 * restartable sequence's commit is). */
			armed = 0;
			victim = cpu;
			held = s->obj[n - 1];
			left_n = n - 1;
			__atomic_store_n(&s->n, n - 1, __ATOMIC_RELAXED);
			errno = ENOTSUP;
			return -1;
		}
	}
	if (!real)
		real = (int (*)(unsigned int))dlsym(RTLD_NEXT,
						    "pcpu_cs_fence");
	if (!real) {
		errno = ENOTSUP;
		return -1;
	}
	return real(cpu);
}

int main(void)
{
	void *p[MAX + 1];
	intptr_t after;
	int n = 0, twice = 0;
	long r;

	t_init(NULL);
	cache = pcpu_cache_create(64, 0, MAX, 16);
	CHECK(cache != NULL, "create: %s", strerror(errno));
	if (!cache)
		return t_done();
	t_pin(0);
	/* Some objects in this CPU's slab. */
	for (int i = 0; i < 8; i++)
		p[i] = pcpu_cache_alloc(cache);
	for (int i = 0; i < 8; i++)
		CHECK(pcpu_cache_free(cache, p[i]) == 0, "free %d", i);
	called = 0;
	armed = 1;
	r = pcpu_cache_drain_all(cache);
	if (!called || armed) {
		printf("skip: pcpu_cs_fence() not interposed (static link?) "
		       "or no slab stopped (called %d, armed %d)\n", called,
		       armed);
		armed = 0;
		pcpu_cache_destroy(cache);
		return called ? t_done() : T_SKIP;
	}
	after = __atomic_load_n(&pcpu_ptr(cache->slabs, victim)->n,
				__ATOMIC_RELAXED);
	printf("fence of copy %u failed after a commit overwrote the mark: "
	       "drain_all %ld, count now %ld (the commit left %ld)\n", victim,
	       r, (long)after, (long)left_n);
	CHECK(after == left_n, "the steal's undo changed the count from %ld "
	      "to %ld", (long)left_n, (long)after);
	/* The played pop's object is allocated: no allocation may return
	 * it, and exactly MAX - 1 more exist. */
	while (n <= MAX && (p[n] = pcpu_cache_alloc(cache)))
		twice += (intptr_t)p[n++] == held;
	printf("then %d allocations (expected %d), the held object handed "
	       "out %d times (expected 0)\n", n, MAX - 1, twice);
	CHECK(n == MAX - 1 && !twice, "%d allocations, held one %d times",
	      n, twice);
	t_unpin();
	pcpu_cache_destroy(cache);
	return t_done();
}
