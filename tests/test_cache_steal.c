// SPDX-License-Identifier: MIT
/*
 * No free object is ever stranded in another CPU's cache: ENOMEM means
 * what cache.h says, every object is allocated.  A cache of 100 objects;
 * all of them allocated and freed while pinned to CPU 0 (they sit in CPU
 * 0's cache); then, pinned to CPU 1, all 100 can be allocated again (taken
 * back from CPU 0's cache while that CPU may run sequences), and only the
 * 101st fails with ENOMEM.  The same from CPU 0 after they were all freed
 * on CPU 1, and from the spare copy's fallback path.
 */
#include "harness.h"

#define N	100

static int alloc_all(struct pcpu_cache *c, void **p, const char *what)
{
	int got = 0;

	for (int i = 0; i < N; i++) {
		p[i] = pcpu_cache_alloc(c);
		if (!p[i]) {
			printf("%s: alloc %d failed: %s\n", what, i,
			       strerror(errno));
			return got;
		}
		got++;
	}
	return got;
}

int main(void)
{
	struct pcpu_cache *c;
	struct pcpu_cache_stats st;
	void *p[N], *extra;
	int got;

	if (t_ncpus() < 2) {
		printf("skip: needs two CPUs\n");
		return T_SKIP;
	}
	t_init(NULL);
	c = pcpu_cache_create(64, 0, N, 0);
	CHECK(c != NULL, "create: %s", strerror(errno));
	if (!c)
		return t_done();
	for (int round = 0; round < 2; round++) {
		unsigned int from = round ? 1 : 0, to = round ? 0 : 1;

		t_pin(from);
		got = alloc_all(c, p, "first CPU");
		CHECK(got == N, "allocated %d of %d on CPU %u", got, N, from);
		for (int i = 0; i < got; i++)
			CHECK(pcpu_cache_free(c, p[i]) == 0, "free %d", i);
		pcpu_cache_stats(c, &st);
		printf("round %d: after freeing on CPU %u: in_cpu %llu "
		       "in_depot %llu\n", round, from,
		       (unsigned long long)st.in_cpu,
		       (unsigned long long)st.in_depot);
		t_pin(to);
		got = alloc_all(c, p, "other CPU");
		printf("round %d: CPU %u: expected %d observed %d\n", round,
		       to, N, got);
		CHECK(got == N, "only %d of %d objects reachable from CPU %u",
		      got, N, to);
		errno = 0;
		extra = pcpu_cache_alloc(c);
		CHECK(!extra && errno == ENOMEM,
		      "alloc %d of %d: %p, errno %d", N + 1, N, extra, errno);
		for (int i = 0; i < got; i++)
			pcpu_cache_free(c, p[i]);
	}
	t_unpin();
	CHECK(pcpu_cache_destroy(c) == 0, "destroy");
	return t_done();
}
