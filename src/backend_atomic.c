// SPDX-License-Identifier: MIT
/* The portable backend: always available, see percpu/backend_atomic.h. */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>

#include "internal.h"

static int atomic_probe(enum pcpu_index index, char *why, size_t len)
{
	if (index == PCPU_INDEX_CID) {
		snprintf(why, len, "mm_cid indexing needs the rseq backend");
		errno = ENODEV;
		return -1;
	}
	return 0;
}

static int atomic_start(enum pcpu_index index, char *why, size_t len)
{
	(void)index;
	(void)why;
	(void)len;
	return 0;
}

const struct pcpu_backend pcpu_backend_atomic = {
	.name = "atomic",
	.id = PCPU__BK_ATOMIC,
	.probe = atomic_probe,
	.start = atomic_start,
};
