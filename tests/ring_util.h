/* SPDX-License-Identifier: MIT */
/*
 * What the ring tests share: pinning to a CPU and learning which buffer
 * its writes go to, and creating a ring or ending the test.
 */
#ifndef PCPU_TESTS_RING_UTIL_H
#define PCPU_TESTS_RING_UTIL_H

#include "harness.h"

/*
 * Pin the caller to cpu; returns the buffer (copy index) its writes now
 * go to.  Clamped to the last copy: an index from outside the possible
 * CPUs shares that one (region.h).
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
