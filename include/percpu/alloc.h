/* SPDX-License-Identifier: MIT */
/*
 * percpu/alloc.h - the per-CPU allocator.
 *
 * pcpu_alloc() carves an offset out of the region's stride and returns the
 * address of copy 0 at that offset: a per-CPU handle, as the kernel's
 * alloc_percpu() does.  Every copy of an allocation reads as zero when it is
 * handed out (free space is kept zero: freed ranges are cleared, and whole
 * free pages go back to the kernel with MADV_DONTNEED on every copy).
 * Free space is a sorted extent list with first-fit and coalescing; live
 * allocations sit in a table, so a bad or double pcpu_free() is reported,
 * never acted upon.  All calls take one mutex: allocation is a set-up path;
 * the per-op paths (this_cpu_*) take no lock.
 */
#ifndef PERCPU_ALLOC_H
#define PERCPU_ALLOC_H

#include <stddef.h>
#include <stdint.h>

#include "region.h"
#include "runtime.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Marks a pointer as a per-CPU handle (documentation only, as __percpu). */
#define __pcpu

/*
 * pcpu_alloc - allocate size bytes on every CPU, aligned to align.
 *
 * align: a power of two, at most the page size; 0 means alignof(max_align_t).
 * Returns the handle, or NULL with errno: EINVAL (size 0, bad align),
 * ENOMEM (the stride is full, or no memory for bookkeeping), or an error of
 * implicit initialization (see pcpu_init()).  Sets pcpu_last_error().
 * MT-safe; not
 * async-signal-safe; fork-safe (the child has its own copy of the region and
 * of the allocator).
 */
void *pcpu_alloc(size_t size, size_t align);

/*
 * pcpu_free - release an allocation.
 *
 * Returns 0, or -1 with errno EINVAL when p is not a live allocation
 * (never allocated, already freed, or not its start): nothing is changed
 * then.  NULL is accepted and ignored (returns 0).  Sets
 * pcpu_last_error().  MT-safe.
 */
int pcpu_free(void *p);

/* Bytes still free in the stride (for tests and diagnostics). */
size_t pcpu_free_bytes(void);

/* Typed helper: T __pcpu *x = PCPU_ALLOC(T); */
#define PCPU_ALLOC(type) ((type *)pcpu_alloc(sizeof(type), __alignof__(type)))

/*
 * pcpu_ptr - CPU cpu's instance of handle p (cpu < pcpu_nr_copies()).
 * No check: a handle not from pcpu_alloc() gives a meaningless address.
 * MT-safe, async-signal-safe.
 */
#define pcpu_ptr(p, cpu)						\
	((__typeof__(p))((uintptr_t)(p) +				\
			 ((uintptr_t)(cpu) << PCPU__K_SHIFT(pcpu__k()))))

#ifdef __cplusplus
}
#endif

#endif /* PERCPU_ALLOC_H */
