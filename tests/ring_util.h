/* SPDX-License-Identifier: MIT */
/*
 * What the ring tests share: pinning to a CPU and learning which buffer
 * its writes go to, and creating a ring or ending the test.
 */
#ifndef PCPU_TESTS_RING_UTIL_H
#define PCPU_TESTS_RING_UTIL_H

#include "harness.h"

/*
 * Pin the caller to cpu; returns the buffer (copy index, ops.h's
 * pcpu_index()) its writes now go to.  The min() is a guard for the
 * tests' array indexing only: the library already maps a CPU outside
 * the possible mask to its spare copy (src/region.c).
 */
static inline unsigned int t_pin_buf(unsigned int cpu)
{
	unsigned int i;

	t_pin(cpu);
	i = pcpu_index();
	return i < pcpu_nr_copies() ? i : pcpu_nr_copies() - 1;
}

/* A ring of these parameters; a failed create ends the test (a FAIL). */
static inline struct pcpu_ring *t_ring_create(size_t buf, size_t page,
					      unsigned int flags)
{
	struct pcpu_ring_params p = { buf, page, flags };
	struct pcpu_ring *r = pcpu_ring_create(&p);

	CHECK(r != NULL, "create: %s", strerror(errno));
	if (!r)
		exit(t_done());
	return r;
}

#endif
