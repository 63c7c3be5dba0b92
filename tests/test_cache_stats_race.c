// SPDX-License-Identifier: MIT
/*
 * pcpu_cache_stats() while allocations and frees run: a snapshot may be
 * approximate, never absurd.  Every snapshot must satisfy
 *	in_cpu + in_depot + allocated == created <= max_objects
 * with no count above created (a count of billions once came from reading
 * the link of an object a concurrent pop had just marked allocated).
 */
#include "harness.h"

#define MAXOBJ	4096

static struct pcpu_cache *cache;
static int stop;

static void *churn(void *arg)
{
	void *held[32];
	unsigned int seed = (unsigned int)(uintptr_t)arg;

	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		int n = 1 + (int)(rand_r(&seed) % 32), got = 0;

		for (int i = 0; i < n; i++)
			if ((held[got] = pcpu_cache_alloc(cache)))
				got++;
		for (int i = 0; i < got; i++)
			pcpu_cache_free(cache, held[i]);
		if (rand_r(&seed) % 64 == 0)
			t_migrate(0, &seed);
	}
	return NULL;
}

int main(void)
{
	int n = 4 * (int)t_ncpus();
	long snaps = t_scale(300000), bad = 0;
	pthread_t th[64];
	struct pcpu_cache_stats st;

	if (n > 64)
		n = 64;
	t_init(NULL);
	cache = pcpu_cache_create(48, 0, MAXOBJ, 32);
	CHECK(cache != NULL, "create");
	if (!cache)
		return t_done();
	for (int i = 0; i < n; i++)
		pthread_create(&th[i], NULL, churn, (void *)(uintptr_t)(i + 1));
	for (long s = 0; s < snaps; s++) {
		if (pcpu_cache_stats(cache, &st)) {
			bad++;
			continue;
		}
		if (st.in_cpu + st.in_depot + st.allocated != st.created ||
		    st.created > st.max_objects || st.in_cpu > st.created ||
		    st.in_depot > st.created || st.allocated > st.created) {
			if (bad < 5)
				printf("absurd snapshot: created %llu cpu %llu "
				       "depot %llu allocated %llu\n",
				       (unsigned long long)st.created,
				       (unsigned long long)st.in_cpu,
				       (unsigned long long)st.in_depot,
				       (unsigned long long)st.allocated);
			bad++;
		}
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	printf("snapshots: expected 0 absurd of %ld, observed %ld\n", snaps,
	       bad);
	CHECK(!bad, "%ld absurd snapshots", bad);
	pcpu_cache_stats(cache, &st);
	CHECK(st.allocated == 0, "quiescent: allocated %llu",
	      (unsigned long long)st.allocated);
	pcpu_cache_destroy(cache);
	return t_done();
}
