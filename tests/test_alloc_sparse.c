// SPDX-License-Identifier: MIT
/*
 * A sparse possible mask (here 0,2: copy 1 is a hole, as with offline or
 * absent CPU ids) and the zero invariant: structures and users may write
 * every copy below pcpu_nr_copies(), holes included (the cache and the
 * ring initialize every copy), so a free must clear every copy.  Write
 * every copy, free, allocate again at the same offset: all read zero.
 * Then the case from the field: create and destroy an object cache, and a
 * fresh allocation reads zero in copy 1 too.
 */
#include "harness.h"

static unsigned int dirty_copies(const uint64_t *p, size_t words)
{
	unsigned int bad = 0;

	for (unsigned int k = 0; k < pcpu_nr_copies(); k++) {
		const uint64_t *c = pcpu_ptr(p, k);

		for (size_t i = 0; i < words; i++)
			if (c[i]) {
				printf("copy %u word %zu reads %#llx\n", k, i,
				       (unsigned long long)c[i]);
				bad++;
				break;
			}
	}
	return bad;
}

int main(void)
{
	uint64_t *p, *q;
	struct pcpu_cache *c;

	setenv("PCPU_TEST_POSSIBLE", "0,2", 1);
	t_init(NULL);
	CHECK(pcpu_nr_copies() == 4, "copies %u (ids 0..2 and the spare)",
	      pcpu_nr_copies());
	CHECK(pcpu_nr_possible() == 2, "possible %u", pcpu_nr_possible());

	p = pcpu_alloc(64, 8);
	CHECK(p != NULL, "alloc");
	if (!p)
		return 1;
	for (unsigned int k = 0; k < pcpu_nr_copies(); k++)
		for (int i = 0; i < 8; i++)
			pcpu_ptr(p, k)[i] = 0x1111 * (k + 1);
	CHECK(pcpu_free(p) == 0, "free");
	q = pcpu_alloc(64, 8);
	CHECK(q == p, "same offset back");
	CHECK(q && dirty_copies(q, 8) == 0, "stale copies after a free");
	pcpu_free(q);

	c = pcpu_cache_create(64, 0, 100, 0);
	CHECK(c != NULL, "cache create: %s", strerror(errno));
	if (c)
		pcpu_cache_destroy(c);
	q = pcpu_alloc(64, 8);
	CHECK(q && dirty_copies(q, 8) == 0,
	      "stale copies after a cache was destroyed");
	return t_done();
}
