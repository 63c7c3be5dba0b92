// SPDX-License-Identifier: MIT
/*
 * Per-CPU object cache under threads >= 8x CPUs with migration churn
 * (a re-pinner plus self-moves): objects are allocated on one thread and
 * freed on another through a shared exchange, some are kept for a while.
 * Every object is tagged by the thread that got it; an ownership bitmap
 * catches an object handed out twice, the tag catches one that changed
 * hands while owned.  At the end a census accounts for every object:
 * allocations = frees, the cache says 0 allocated and created = in depot +
 * in per-CPU lists, and the bitmap is empty.
 */
#include "harness.h"

#include <stdint.h>

#define SLOTS	64
#define STASH	8
#define CAP	4	/* per-CPU slab bound */

struct obj {
	uint64_t owner;		/* thread id + 1 while owned, 0 when free */
	uint64_t seq;
	uint64_t check;		/* owner * K ^ seq */
	char pad[40];
};

static struct pcpu_cache *cache;
static void *slots[SLOTS];
/* Objects the cache may hold: what the threads can hold at once (each
 * its stash and one in hand), the exchange, a slab's worth per copy, and
 * as much again, so that ENOMEM means a lost object, not a big machine
 * (8192 fixed ran out from about 113 CPUs). */
static size_t maxobj;
static uint64_t *owned;		/* maxobj bits */
static long per_thread;
static long allocs, frees, twice, stolen, fails;
static pid_t *tids;

static size_t index_of(void *p)
{
	return (size_t)((char *)p - cache->base) / cache->stride;
}

static void got(struct obj *o, long id, uint64_t seq)
{
	size_t i = index_of(o);
	uint64_t bit = UINT64_C(1) << (i % 64);

	if (__atomic_fetch_or(&owned[i / 64], bit, __ATOMIC_RELAXED) & bit)
		__atomic_fetch_add(&twice, 1, __ATOMIC_RELAXED);
	if (o->owner != 0)
		__atomic_fetch_add(&twice, 1, __ATOMIC_RELAXED);
	o->owner = (uint64_t)id + 1;
	o->seq = seq;
	o->check = o->owner * 0x9e3779b97f4a7c15ull ^ seq;
}

static void give_back(struct obj *o)
{
	size_t i = index_of(o);
	uint64_t bit = UINT64_C(1) << (i % 64);

	if (o->owner == 0 ||
	    o->check != (o->owner * 0x9e3779b97f4a7c15ull ^ o->seq))
		__atomic_fetch_add(&stolen, 1, __ATOMIC_RELAXED);
	o->owner = 0;
	if (!(__atomic_fetch_and(&owned[i / 64], ~bit, __ATOMIC_RELAXED) & bit))
		__atomic_fetch_add(&stolen, 1, __ATOMIC_RELAXED);
	if (pcpu_cache_free(cache, o))
		__atomic_fetch_add(&fails, 1, __ATOMIC_RELAXED);
	else
		__atomic_fetch_add(&frees, 1, __ATOMIC_RELAXED);
}

static void *worker(void *arg)
{
	long id = (long)arg;
	unsigned int seed = (unsigned int)id * 31u + 7;
	struct obj *stash[STASH] = { 0 };

	__atomic_store_n(&tids[id], gettid(), __ATOMIC_RELAXED);
	for (long k = 0; k < per_thread; k++) {
		struct obj *o = pcpu_cache_alloc(cache), *out;
		unsigned int r = (unsigned int)rand_r(&seed);

		if (!o) {
			__atomic_fetch_add(&fails, 1, __ATOMIC_RELAXED);
			continue;
		}
		__atomic_fetch_add(&allocs, 1, __ATOMIC_RELAXED);
		got(o, id, (uint64_t)k);
		switch (r % 4) {
		case 0:		/* free at once, on this thread */
			give_back(o);
			break;
		case 1:		/* keep it a while */
			out = stash[r / 4 % STASH];
			stash[r / 4 % STASH] = o;
			if (out)
				give_back(out);
			break;
		default:	/* hand it over: another thread frees it */
			out = __atomic_exchange_n(&slots[r / 4 % SLOTS], o,
						  __ATOMIC_ACQ_REL);
			if (out)
				give_back(out);
			break;
		}
		if (k % 500 == 0)
			t_migrate(0, &seed);
	}
	for (int i = 0; i < STASH; i++)
		if (stash[i])
			give_back(stash[i]);
	__atomic_store_n(&tids[id], 0, __ATOMIC_RELAXED);
	return NULL;
}

int main(void)
{
	int n = (int)(8 * t_ncpus());
	struct pcpu_cache_stats st;
	long moves;
	double t0;
	long left = 0;

	if (n < 16)
		n = 16;
	t_init(NULL);
	maxobj = 2 * ((size_t)n * (STASH + 1) + SLOTS +
		      (size_t)CAP * pcpu_nr_copies());
	maxobj = (maxobj + 63) / 64 * 64;
	if (maxobj < 8192)
		maxobj = 8192;
	owned = calloc(maxobj / 64, sizeof(*owned));
	CHECK(owned != NULL, "bitmap");
	if (!owned)
		return t_done();
	cache = pcpu_cache_create(sizeof(struct obj), 64, maxobj, CAP);
	CHECK(cache != NULL, "create: %s", strerror(errno));
	if (!cache)
		return t_done();
	per_thread = t_scale(500000);
	tids = calloc((size_t)n, sizeof(*tids));
	t0 = t_now();
	moves = t_run_repinned(n, worker, tids);
	for (int i = 0; i < SLOTS; i++)
		if (slots[i])
			give_back(slots[i]);
	for (size_t i = 0; i < maxobj / 64; i++)
		left += __builtin_popcountll(owned[i]);
	pcpu_cache_stats(cache, &st);
	printf("%d threads x %ld allocs in %.2f s, %ld re-pins, %llu refills, "
	       "%llu flushes\n", n, per_thread, t_now() - t0, moves,
	       (unsigned long long)st.refills, (unsigned long long)st.flushes);
	printf("census: expected allocs %ld observed allocs %ld frees %ld; "
	       "created %llu = allocated %llu + depot %llu + cpu %llu\n",
	       (long)n * per_thread, allocs, frees,
	       (unsigned long long)st.created,
	       (unsigned long long)st.allocated,
	       (unsigned long long)st.in_depot,
	       (unsigned long long)st.in_cpu);
	CHECK(fails == 0, "%ld failed allocs or frees", fails);
	CHECK(allocs == (long)n * per_thread, "allocs");
	CHECK(frees == allocs, "frees %ld != allocs %ld", frees, allocs);
	CHECK(twice == 0, "%ld objects handed out twice", twice);
	CHECK(stolen == 0, "%ld objects changed while owned", stolen);
	CHECK(left == 0, "%ld objects still marked owned", left);
	CHECK(st.allocated == 0 &&
	      st.created == st.in_depot + st.in_cpu, "census off");
	CHECK(st.created <= maxobj, "created %llu of at most %zu",
	      (unsigned long long)st.created, maxobj);
	pcpu_cache_destroy(cache);
	free(tids);
	free(owned);
	return t_done();
}
