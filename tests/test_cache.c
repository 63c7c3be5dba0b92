// SPDX-License-Identifier: MIT
/*
 * Per-CPU object cache, single-threaded: argument checks, alignment,
 * LIFO reuse on one CPU, refusal of foreign, interior and double-freed
 * pointers, exhaustion at max_objects (ENOMEM) and recovery, the census
 * (created = allocated + in_depot + in_cpu) after every phase, drain and
 * drain_all moving every cached object to the depot.
 */
#include "harness.h"

#include <stdint.h>
#include <sys/wait.h>

static void census(struct pcpu_cache *c, uint64_t allocated, const char *what)
{
	struct pcpu_cache_stats st;

	CHECK(pcpu_cache_stats(c, &st) == 0, "stats");
	printf("census %s: created %llu = allocated %llu + depot %llu + "
	       "cpu %llu (expected allocated %llu)\n", what,
	       (unsigned long long)st.created,
	       (unsigned long long)st.allocated,
	       (unsigned long long)st.in_depot,
	       (unsigned long long)st.in_cpu, (unsigned long long)allocated);
	CHECK(st.allocated == allocated, "%s: allocated %llu, expected %llu",
	      what, (unsigned long long)st.allocated,
	      (unsigned long long)allocated);
	CHECK(st.created == st.allocated + st.in_depot + st.in_cpu,
	      "%s: census does not add up", what);
}

/*
 * An object's start that was never carved (index created .. max - 1):
 * its first word is 0, not the cookie, so only the index can refuse it.
 * Accepted, it would sit in a slab and be carved again later: the same
 * address handed out twice.  Refused with EINVAL, and every remaining
 * object (max - 1 of them, one is held) is allocated exactly once.
 */
static void uncarved(struct pcpu_cache *c, uint64_t created, size_t max)
{
	void **got = calloc(max + 1, sizeof(*got));
	size_t n = 0, dups = 0;
	int refused = 0, tried = 0;

	if (created < max) {
		const size_t idx[] = { created, max - 1, (created + max) / 2 };

		for (size_t i = 0; i < sizeof(idx) / sizeof(idx[0]); i++) {
			tried++;
			errno = 0;
			refused += pcpu_cache_free(c, c->base +
						   idx[i] * c->stride) == -1 &&
				   errno == EINVAL;
		}
	}
	printf("uncarved objects (created %llu of %zu): %d of %d refused "
	       "with EINVAL (expected all)\n", (unsigned long long)created,
	       max, refused, tried);
	CHECK(refused == tried, "%d of %d uncarved objects accepted",
	      tried - refused, tried);
	CHECK(got != NULL, "calloc");
	if (!got)
		return;
	while (n <= max && (got[n] = pcpu_cache_alloc(c)))
		n++;
	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			dups += got[i] == got[j];
	printf("then %zu allocations (expected %zu), %zu duplicate "
	       "addresses (expected 0)\n", n, max - 1, dups);
	CHECK(n == max - 1 && dups == 0, "%zu allocations, %zu duplicates",
	      n, dups);
	for (size_t i = 0; i < n; i++)
		CHECK(pcpu_cache_free(c, got[i]) == 0, "free %zu", i);
	free(got);
}

/*
 * Every kind of pointer that is not an object's start is refused with
 * EINVAL and changes nothing, for a power-of-two stride (the rotated
 * one-comparison check) and for others (the reciprocal): just below the
 * objects, one past the last, the last byte, every interior offset of
 * the first and last objects, tiny and huge addresses.
 */
static void bad_pointers(size_t size, size_t align, size_t max)
{
	struct pcpu_cache *c = pcpu_cache_create(size, align, max, 0);
	struct pcpu_cache_stats st;
	uint64_t created;
	char *base, *end;
	void *o;
	int refused = 0, tried = 0;

	CHECK(c != NULL, "create %zu/%zu: %s", size, align, strerror(errno));
	if (!c)
		return;
	o = pcpu_cache_alloc(c);
	CHECK(o != NULL, "alloc");
	base = c->base;
	end = base + c->limit;
	const uintptr_t bad[] = {
		(uintptr_t)base - c->stride, (uintptr_t)base - 1,
		(uintptr_t)base - 8, (uintptr_t)end, (uintptr_t)end - 1,
		(uintptr_t)end + c->stride, 8, 64, 4096,
		UINTPTR_MAX - 7, UINTPTR_MAX & ~(uintptr_t)4095,
		(uintptr_t)base + ((uintptr_t)1 << 63),
	};
	CHECK(pcpu_cache_stats(c, &st) == 0, "stats");
	created = st.created;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		tried++;
		refused += pcpu_cache_free(c, (void *)bad[i]) == -1 &&
			   errno == EINVAL;
	}
	for (size_t off = 8; off < c->stride; off += 8) {
		tried += 2;
		errno = 0;
		refused += pcpu_cache_free(c, base + off) == -1 &&
			   errno == EINVAL;
		errno = 0;
		refused += pcpu_cache_free(c, end - c->stride + off) == -1 &&
			   errno == EINVAL;
	}
	printf("bad pointers, size %zu align %zu (stride %zu): %d of %d "
	       "refused with EINVAL (expected all)\n", size, align, c->stride,
	       refused, tried);
	CHECK(refused == tried, "%d of %d bad pointers accepted",
	      tried - refused, tried);
	CHECK(pcpu_cache_stats(c, &st) == 0 && st.created == created &&
	      st.allocated == 1, "a refused free changed the census");
	uncarved(c, created, max);
	CHECK(pcpu_cache_free(c, o) == 0, "the real free");
	CHECK(pcpu_cache_destroy(c) == 0, "destroy");
}

int main(void)
{
	enum { MAX = 1000, CAP = 16 };
	struct pcpu_cache *c;
	void *p[MAX + 1], *q;
	char local;
	int i;

	t_init(NULL);
	errno = 0;
	CHECK(!pcpu_cache_create(0, 0, 10, 0) && errno == EINVAL, "size 0");
	CHECK(!pcpu_cache_create(8, 3, 10, 0) && errno == EINVAL, "align 3");
	CHECK(!pcpu_cache_create(8, 8192, 10, 0) && errno == EINVAL,
	      "align > page");
	CHECK(!pcpu_cache_create(8, 8, 0, 0) && errno == EINVAL, "max 0");
	CHECK(!pcpu_cache_create(8, 8, PCPU_CACHE_MAX_OBJECTS + 1, 0) &&
	      errno == EINVAL, "max too large");
	CHECK(pcpu_cache_destroy(NULL) == -1 && errno == EINVAL, "destroy NULL");
	CHECK(!pcpu_cache_alloc(NULL) && errno == EINVAL, "alloc NULL");
	bad_pointers(64, 0, 100);
	bad_pointers(24, 8, 100);
	bad_pointers(8, 8, 1000);
	bad_pointers(4096, 4096, 10);
	bad_pointers(100, 4, 1000);

	c = pcpu_cache_create(24, 64, MAX, CAP);
	CHECK(c != NULL, "create: %s", strerror(errno));
	if (!c)
		return t_done();
	t_pin(0);
	q = pcpu_cache_alloc(c);
	CHECK(q && ((uintptr_t)q & 63) == 0, "alignment of %p", q);
	memset(q, 0xab, 24);
	CHECK(pcpu_cache_free(c, q) == 0, "free");
	CHECK(pcpu_cache_alloc(c) == q, "LIFO on one CPU");
	CHECK(pcpu_cache_free(c, q) == 0, "free");
	CHECK(pcpu_cache_free(c, q) == -1 && errno == EINVAL, "double free");
	CHECK(pcpu_cache_free(c, &local) == -1 && errno == EINVAL, "foreign");
	CHECK(pcpu_cache_free(c, (char *)q + 8) == -1 && errno == EINVAL,
	      "interior pointer");
	CHECK(pcpu_cache_free(NULL, q) == -1 && errno == EINVAL, "cache NULL");
	CHECK(pcpu_cache_free(c, NULL) == 0, "free(NULL)");
	census(c, 0, "after unit");

	/* Exhaustion: exactly MAX objects, all distinct, then ENOMEM. */
	for (i = 0; i < MAX; i++) {
		p[i] = pcpu_cache_alloc(c);
		CHECK(p[i] != NULL, "alloc %d: %s", i, strerror(errno));
		memset(p[i], i & 0xff, 24);
	}
	errno = 0;
	p[MAX] = pcpu_cache_alloc(c);
	CHECK(!p[MAX] && errno == ENOMEM, "alloc past max_objects");
	census(c, MAX, "all allocated");
	for (i = 0; i < MAX; i++)
		for (int j = 0; j < 24; j++)
			if (((unsigned char *)p[i])[j] != (i & 0xff)) {
				CHECK(0, "object %d overlaps another", i);
				break;
			}
	/* Free them over two CPUs: lists fill to CAP and flush. */
	for (i = 0; i < MAX; i++) {
		if (i % 100 == 0)
			t_pin((unsigned int)(i / 100) % t_ncpus());
		CHECK(pcpu_cache_free(c, p[i]) == 0, "free %d", i);
	}
	census(c, 0, "all freed");
	{
		struct pcpu_cache_stats st;

		pcpu_cache_stats(c, &st);
		CHECK(st.in_cpu <= (uint64_t)CAP * pcpu_nr_copies(),
		      "per-CPU lists exceed capacity: %llu",
		      (unsigned long long)st.in_cpu);
		CHECK(st.flushes > 0, "no flush to the depot happened");
	}
	/* Reuse after exhaustion. */
	q = pcpu_cache_alloc(c);
	CHECK(q != NULL, "alloc after free-all");
	pcpu_cache_free(c, q);
	{
		cpu_set_t all;
		long n;

		/* drain_all visits the CPUs this thread may run on: all. */
		CPU_ZERO(&all);
		for (unsigned int k = 0; k < t_ncpus(); k++)
			CPU_SET(k, &all);
		sched_setaffinity(0, sizeof(all), &all);
		n = pcpu_cache_drain_all(c);
		struct pcpu_cache_stats st;

		if (n < 0 && errno == ENOTSUP) {
			n = pcpu_cache_drain(c);
			printf("drain_all not supported here, drain moved %ld\n",
			       n);
		} else {
			pcpu_cache_stats(c, &st);
			printf("drain_all moved %ld objects\n", n);
			CHECK(st.in_cpu == 0, "after drain_all, %llu objects "
			      "still in per-CPU lists",
			      (unsigned long long)st.in_cpu);
		}
		CHECK(n >= 0, "drain: %s", strerror(errno));
	}
	census(c, 0, "after drain");
	/* Fork: the child has its own copy of the cache and can use it. */
	{
		pid_t pid = fork();
		int status = -1;

		if (pid == 0) {
			for (i = 0; i < MAX; i++)
				if (!(p[i] = pcpu_cache_alloc(c)))
					_exit(1);
			for (i = 0; i < MAX; i++)
				if (pcpu_cache_free(c, p[i]))
					_exit(2);
			_exit(0);
		}
		CHECK(pid > 0 && waitpid(pid, &status, 0) == pid &&
		      WIFEXITED(status) && WEXITSTATUS(status) == 0,
		      "cache in a fork child (status %d)", status);
	}
	census(c, 0, "parent after the child used its copy");
	CHECK(pcpu_cache_destroy(c) == 0, "destroy");
	return t_done();
}
