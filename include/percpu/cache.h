/* SPDX-License-Identifier: MIT */
/*
 * percpu/cache.h - per-CPU object cache for fixed-size objects.
 *
 * After tcmalloc's per-CPU caches and the kernel's SLUB per-CPU freelist:
 * each CPU copy holds a LIFO free list served with this_cpu ops, bounded
 * to `capacity` objects; an empty list is refilled from a shared depot in
 * one batch, a full list is moved to the depot in one batch.  The depot
 * (batches of linked objects) and the carving of fresh objects take one
 * mutex, once per batch.
 *
 * The list head of a copy is one 64-bit word, popped and pushed with
 * this_cpu_read + this_cpu_cmpxchg:
 *
 *	bits 0..25   index of the first free object (PCPU_CACHE_EMPTY: none)
 *	bits 26..63  tag: (counter << cbits) | copy
 *
 * Every successful cmpxchg on a copy adds 1 << cbits to its tag, so a
 * thread preempted between its read and its cmpxchg (while others popped
 * and pushed the same object back) fails instead of installing a stale
 * next pointer: the ABA problem of lock-free stacks.  The low cbits of the
 * tag are the copy's own index (cbits = bits for pcpu_nr_copies()), so a
 * value read on one CPU can never match another copy's head after the
 * thread migrated, and the cmpxchg fails there too; the retry uses the
 * value that copy holds.  ABA remains possible only if 2^(38 - cbits)
 * operations (2^36 with 3 copies) hit one copy while a thread sleeps
 * between its two ops.
 *
 * The next link and the list depth of every free object live out of band
 * (one 64-bit word per object: next index, depth from the end), never in
 * the object, so a caller's writes to an object it owns never race with a
 * popper's speculative read of the link.  depth gives the exact list
 * length without a counter.  An allocated object's link holds a mark, so
 * pcpu_cache_free() of a pointer that is not allocated (double free, or
 * never handed out) is refused with EINVAL, unless two frees of the same
 * pointer race each other (not detected, as with free()).
 *
 * Objects are carved from one address range reserved at creation
 * (max_objects * object stride, MAP_NORESERVE: pages are committed on
 * first use), so a pointer's index is an offset division and a foreign
 * pointer is detected by a range check.  At most 2^26 - 1 objects.
 */
#ifndef PERCPU_CACHE_H
#define PERCPU_CACHE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "ops.h"
#include "lock.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PCPU_CACHE_IDX_BITS	26
#define PCPU_CACHE_IDX_MASK	((UINT64_C(1) << PCPU_CACHE_IDX_BITS) - 1)
#define PCPU_CACHE_EMPTY	PCPU_CACHE_IDX_MASK
#define PCPU_CACHE_MAX_OBJECTS	(PCPU_CACHE_IDX_MASK - 1)
#define PCPU_CACHE_ALLOCATED	UINT64_MAX	/* link of a live object */
#define PCPU_CACHE_DEFAULT_CAPACITY	128

/* The fields are private; the fast paths in this header read them. */
struct pcpu_cache {
	uint64_t __pcpu *heads;		/* per-CPU list head (see above) */
	uint64_t *links;		/* per object: depth << 32 | next */
	char *base;			/* object 0 */
	uint64_t tag_inc;		/* 1 << (IDX_BITS + cbits) */
	size_t stride;			/* size rounded to the alignment */
	size_t limit;			/* max_objects * stride */
	unsigned int shift;		/* log2(stride) if a power of 2, or 0 */
	unsigned int capacity;		/* per-CPU list bound */
	void *depot;			/* shared depot, src/cache.c */
};

struct pcpu_cache_stats {
	uint64_t max_objects;	/* the limit given at creation */
	uint64_t created;	/* objects carved so far */
	uint64_t in_depot;	/* free, in the shared depot */
	uint64_t in_cpu;	/* free, in per-CPU lists */
	uint64_t allocated;	/* created - in_depot - in_cpu */
	uint64_t refills;	/* batches moved depot -> CPU */
	uint64_t flushes;	/* batches moved CPU -> depot */
};

/*
 * pcpu_cache_create - a cache of objects of size bytes aligned to align.
 *
 * align: a power of two up to 4096, 0 for alignof(max_align_t).
 * max_objects: objects the cache may ever hold (1 .. PCPU_CACHE_MAX_OBJECTS);
 * their address space is reserved now, memory committed as they are used.
 * capacity: per-CPU list bound (and batch size), 0 for the default (128).
 * Returns the cache, or NULL with errno EINVAL (bad argument) or ENOMEM.
 * MT-safe; not async-signal-safe.
 */
struct pcpu_cache *pcpu_cache_create(size_t size, size_t align,
				     size_t max_objects,
				     unsigned int capacity);

/*
 * pcpu_cache_destroy - release the cache and every object, allocated or
 * not.  No other call on c may run or follow.  Returns 0, or -1 with errno
 * EINVAL (c NULL).
 */
int pcpu_cache_destroy(struct pcpu_cache *c);

/* Slow paths, out of line (not API). */
void *pcpu__cache_refill(struct pcpu_cache *c);
int pcpu__cache_flush_push(struct pcpu_cache *c, uint32_t idx);

PCPU__INLINE uint64_t pcpu__cache_next_head(const struct pcpu_cache *c,
					    uint64_t old, uint64_t idx)
{
	return ((old & ~PCPU_CACHE_IDX_MASK) + c->tag_inc) | idx;
}

/*
 * pcpu_cache_alloc - an object, from this CPU's list when it has one.
 * Contents are undefined (whatever the last owner left).  Returns the
 * object, or NULL with errno ENOMEM (max_objects are all allocated, or
 * no memory) or EINVAL (c NULL).  Lock-free on the fast path (no system
 * call, no lock prefix on the rseq and gs backends); takes the depot mutex
 * once per batch.  MT-safe; not async-signal-safe (the refill takes a
 * mutex); fork-safe (the child gets a copy of the cache).
 */
static inline void *pcpu_cache_alloc(struct pcpu_cache *c)
{
	uint64_t old, seen, link;
	uint64_t i;
	char *obj;

	if (PCPU__UNLIKELY(!c)) {
		errno = EINVAL;
		return NULL;
	}
	old = this_cpu_read(c->heads);
	for (;;) {
		i = old & PCPU_CACHE_IDX_MASK;
		if (PCPU__UNLIKELY(i == PCPU_CACHE_EMPTY))
			return pcpu__cache_refill(c);
		/* Acquire: see the link that the pusher of i wrote before
		 * its cmpxchg; pairs with PCPU__FENCE_REL() in free. */
		PCPU__FENCE_ACQ();
		link = __atomic_load_n(&c->links[i], __ATOMIC_RELAXED);
		seen = this_cpu_cmpxchg(c->heads, old,
			pcpu__cache_next_head(c, old,
					      link & PCPU_CACHE_IDX_MASK));
		if (seen == old)
			break;
		old = seen;	/* raced, or ran on another copy: retry */
	}
	__atomic_store_n(&c->links[i], PCPU_CACHE_ALLOCATED,
			 __ATOMIC_RELAXED);
	obj = c->base + i * c->stride;
	PCPU__HB_ACQUIRE(obj);
	return obj;
}

/*
 * pcpu_cache_free - give obj back, to this CPU's list (any thread may free
 * any object).  Returns 0, or -1 with errno EINVAL (obj is not an
 * allocated object of c: foreign pointer, interior pointer or double free;
 * nothing is changed) or ENOMEM (the depot could not grow; obj stays
 * allocated).  NULL is accepted (returns 0).  Lock-free on the fast path.
 * MT-safe; not async-signal-safe.
 */
static inline int pcpu_cache_free(struct pcpu_cache *c, void *obj)
{
	uint64_t old, seen, h, depth, off, i;

	if (!obj)
		return 0;
	off = (uint64_t)((char *)obj - (c ? c->base : (char *)obj));
	if (PCPU__UNLIKELY(!c || off >= c->limit))
		goto bad;
	i = c->shift ? off >> c->shift : off / c->stride;
	if (PCPU__UNLIKELY(i * c->stride != off ||
			   __atomic_load_n(&c->links[i], __ATOMIC_RELAXED) !=
			   PCPU_CACHE_ALLOCATED))
		goto bad;
	PCPU__HB_RELEASE(obj);
	old = this_cpu_read(c->heads);
	for (;;) {
		h = old & PCPU_CACHE_IDX_MASK;
		/* Acquire: h's link was written before h was published. */
		PCPU__FENCE_ACQ();
		depth = h == PCPU_CACHE_EMPTY ? 0 :
			__atomic_load_n(&c->links[h], __ATOMIC_RELAXED) >> 32;
		if (PCPU__UNLIKELY(depth >= c->capacity))
			return pcpu__cache_flush_push(c, (uint32_t)i);
		__atomic_store_n(&c->links[i], (depth + 1) << 32 | h,
				 __ATOMIC_RELAXED);
		/* Release: the caller's use of obj and our link before the
		 * head that publishes it; pairs with the acquire in alloc. */
		PCPU__FENCE_REL();
		seen = this_cpu_cmpxchg(c->heads, old,
					pcpu__cache_next_head(c, old, i));
		if (seen == old)
			return 0;
		old = seen;
	}
bad:
	errno = EINVAL;
	return -1;
}

/*
 * pcpu_cache_drain - move the free objects of this CPU's list (the copy
 * the call runs on) and of the spare copy to the depot; with the atomic
 * backend, of every copy.  Returns the number of objects moved, or -1
 * with errno EINVAL or ENOMEM.  MT-safe.
 */
long pcpu_cache_drain(struct pcpu_cache *c);

/*
 * pcpu_cache_drain_all - drain every CPU's list: moves the calling thread
 * to each CPU it may run on in turn (sched_setaffinity) and drains there,
 * then restores its affinity.  Lists of CPUs the thread may not run on are
 * left alone.  Returns the number of objects moved, or -1 with errno
 * EINVAL, ENOMEM, ENOTSUP (the index source is mm_cid: a CPU does not
 * name a copy) or a sched_setaffinity() error.  MT-safe; the thread must
 * not be pinned by the gs-pinned backend.
 */
long pcpu_cache_drain_all(struct pcpu_cache *c);

/*
 * pcpu_cache_stats - counts of objects by where they are.  in_cpu walks
 * every per-CPU list: exact when no alloc or free runs at the same time,
 * a snapshot otherwise.  Returns 0, or -1 with errno EINVAL.  MT-safe.
 */
int pcpu_cache_stats(struct pcpu_cache *c, struct pcpu_cache_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* PERCPU_CACHE_H */
