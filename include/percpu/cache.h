/* SPDX-License-Identifier: MIT */
/*
 * percpu/cache.h - per-CPU object cache for fixed-size objects.
 *
 * After tcmalloc's per-CPU caches: each CPU copy holds a slab, an array of
 * up to `capacity` pointers to free objects and their count.  An allocation
 * is one critical section (cs.h) on this CPU's slab, a free is one more:
 *
 *	alloc:	n = slab->n;  if (n <= 0) slow path (empty, or stopped)
 *		if (slab->n != n) retry;  obj = slab->obj[n - 1];
 *		slab->n = n - 1;				(commit)
 *	free:	n = slab->n;  if (n is not in 0 .. capacity - 1) slow path
 *		if (slab->n != n) retry;  slab->obj[n] = obj;	(try-store)
 *		slab->n = n + 1;				(commit)
 *
 * Both are restartable sequences on the rseq and gs backends (no lock
 * prefix, no system call) and locked sections on the atomic backend.  The
 * pointer an allocation takes is read inside its sequence, after the
 * count was compared, so a pop and push by another thread on this CPU in
 * between cannot hand out a stale slot: anything else that ran on this
 * CPU restarted us.  Measured against the alternative, a per-CPU linked
 * list popped with cmpnev_storeoffp_load (the link of each free object
 * out of band, as the old cache had it): see bench cache_alloc_free,
 * impls pcpu-rseq and pcpu-cs-list, and the choice made in src/cache.c.
 *
 * An empty slab is refilled from a shared depot in one batch (half the
 * capacity, copied in by one copy-and-commit sequence); a full slab moves
 * half its objects to the depot the same way.  The depot (a stack of
 * pointers) and the carving of fresh objects take one mutex, once per
 * batch.
 *
 * No object is ever stranded on another CPU.  When the depot is empty and
 * every object has been carved, an allocation takes the other CPUs'
 * objects back: it marks that CPU's slab stopped (the sign bit of its
 * count, set with a locked instruction, which makes every sequence there
 * fail its comparison), calls pcpu_cs_fence() for that copy so that any
 * sequence in flight there has committed or aborted, checks the mark is
 * still set (a sequence that committed just before the fence may have
 * overwritten it: then again), moves the objects to the depot and clears
 * the mark.  So ENOMEM means that all max_objects objects are allocated
 * (or being moved by another thread at that instant: then it waits).
 *
 * Bad frees.  Objects are carved from one address range reserved at
 * creation (max_objects * object stride, MAP_NORESERVE: pages are
 * committed on first use), in order, so a foreign pointer (or one to an
 * object not carved yet) is a check of the index against the objects
 * carved so far and an interior one an alignment check: for a
 * power-of-two stride both are one comparison of the rotated offset
 * (pcpu__cache_owns()), otherwise a multiplication by the stride's
 * reciprocal.  A double free is caught the
 * way glibc's tcache catches it: a free writes the cache's random cookie
 * into the object's first word and an allocation clears it, so a free
 * that finds the cookie already there is suspect, and the slow path
 * confirms by looking for the pointer among the free objects.  All of it
 * touches only the object's own line, which the caller just used.  Every
 * such pointer is refused with EINVAL and nothing changes, except for
 * double frees the search cannot see: two frees of the same pointer
 * racing each other (as with free()); a second free of an object that is
 * in transit at that instant, in the hands of a thread moving a batch
 * between a slab and the depot (a refill, a flush, a steal or drain: its
 * stack buffer is not searched); and a second free after the caller
 * overwrote the freed object's first word (no cookie, so no search).  A
 * missed double free is accepted, and the object can later be handed out
 * twice.  At most PCPU_CACHE_MAX_OBJECTS objects; objects are at least 8
 * bytes and 8-byte aligned (the cookie's word).
 *
 * Memory order: an object moves between threads through this CPU's slab
 * (the threads are serialized by the CPU: a context switch orders them),
 * through the depot (its mutex), or by a steal (pcpu_cs_fence(), a full
 * barrier on the CPU it fences): the previous owner's writes to it happen
 * before the next owner's reads, with no fence on the fast paths.
 */
#ifndef PERCPU_CACHE_H
#define PERCPU_CACHE_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>

#include "cs.h"
#include "lock.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PCPU_CACHE_MAX_OBJECTS	((UINT64_C(1) << 32) - 1)
#define PCPU_CACHE_DEFAULT_CAPACITY	128
#define PCPU_CACHE_MAX_CAPACITY	65536

/* A slab count with this bit set: stopped, a steal or drain in progress. */
#define PCPU__CACHE_STOP	INTPTR_MIN

/* One CPU's slab: the count, then the pointers (obj[0 .. n - 1]). */
struct pcpu__cache_slab {
	intptr_t n;
	intptr_t obj[];
};

/* The fields are private; the fast paths in this header read them. */
struct pcpu_cache {
	struct pcpu__cache_slab __pcpu *slabs;	/* per-CPU */
	intptr_t cookie;		/* first word of a free object */
	char *base;			/* object 0 */
	size_t stride;			/* size rounded to the alignment */
	size_t limit;			/* max_objects * stride */
	uint64_t nobj;			/* max_objects */
	uint64_t recip;			/* ceil(2^64 / stride), see index() */
	unsigned int shift;		/* log2(stride) if a power of 2, or 0 */
	unsigned int capacity;		/* per-CPU slab bound */
	void *depot;			/* shared depot, src/cache.c */
	/*
	 * Objects carved so far (index < carved exists): a free of an
	 * index at or above it is refused, since that address has never
	 * been handed out and will be carved later.  Raised only under the
	 * depot mutex, never lowered.  Last, so that the fields above keep
	 * their offsets for code compiled against the older header.
	 */
	uint64_t carved;
};

struct pcpu_cache_stats {
	uint64_t max_objects;	/* the limit given at creation */
	uint64_t created;	/* objects carved so far */
	uint64_t in_depot;	/* free, in the shared depot */
	uint64_t in_cpu;	/* free, in per-CPU slabs */
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
 * capacity: per-CPU slab bound (1 .. PCPU_CACHE_MAX_CAPACITY, and the
 * batch size is half of it), 0 for the default (128).
 * Returns the cache, or NULL with errno EINVAL (bad argument) or ENOMEM.
 * Sets pcpu_last_error().  MT-safe; not async-signal-safe.
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
void *pcpu__cache_alloc_slow(struct pcpu_cache *c);
void *pcpu__cache_refill(struct pcpu_cache *c);
int pcpu__cache_free_slow(struct pcpu_cache *c, void *obj);
int pcpu__cache_flush_push(struct pcpu_cache *c, void *obj);
int pcpu__cache_suspect_free(struct pcpu_cache *c, void *obj);

/*
 * Is byte offset off (< limit) the start of an object?  For a stride that
 * is not a power of two: a multiplication by ceil(2^64 / stride), exact
 * while off * stride < 2^64 (limit is kept below 2^40 and stride below
 * 2^24 for that).
 */
PCPU__INLINE int pcpu__cache_aligned(const struct pcpu_cache *c,
				     uint64_t off)
{
	uint64_t i;

	if (c->shift)
		return !(off & (c->stride - 1));
	i = (uint64_t)(((unsigned __int128)off * c->recip) >> 64);
	return i * c->stride == off;
}

/*
 * Is obj one of c's objects (in range, at an object's start, and carved
 * already)?  For a power-of-two stride (shift 3 .. 23) one comparison
 * does all three: the offset rotated right by shift is the index when it
 * is aligned, and when it is not its low bits land in the top bits, far
 * above carved (at most nobj, at most 2^32); a pointer below base wraps
 * to an offset whose top bits are set, just as far above.
 *
 * carved is read relaxed: a caller holding a carved object got it
 * through a chain that happens after its carving (the depot mutex, then
 * a slab, whose threads its CPU orders, or the caller's own hand-off), so
 * the load sees that carve or a later one.  A pointer to an object not
 * carved yet is refused, unless it is being carved at that instant (then
 * the caller frees what another thread is just being handed: a race of
 * the caller's, as with free()).
 */
PCPU__INLINE int pcpu__cache_owns(const struct pcpu_cache *c,
				  const void *obj)
{
	uint64_t off = (uint64_t)((const char *)obj - c->base);
	uint64_t carved = __atomic_load_n(&c->carved, __ATOMIC_RELAXED);
	unsigned int s = c->shift;

	if (PCPU__LIKELY(s))
		return ((off >> s) | (off << (64 - s))) < carved;
	/* The division is exact only below limit: range first. */
	return off < c->limit && pcpu__cache_aligned(c, off) &&
	       (uint64_t)(((unsigned __int128)off * c->recip) >> 64) < carved;
}

/*
 * pcpu_cache_alloc - an object, from this CPU's slab when it has one.
 * Contents are undefined (whatever the last owner left).  Returns the
 * object, or NULL with errno ENOMEM (max_objects are all allocated, or
 * no memory) or EINVAL (c NULL).  One critical section on the fast path
 * (no system call, no lock prefix on the rseq and gs backends); takes the
 * depot mutex once per batch.  MT-safe; not async-signal-safe (the refill
 * takes a mutex); fork-safe (the child gets a copy of the cache).
 */
PCPU__INLINE void *pcpu_cache_alloc(struct pcpu_cache *c)
{
	struct pcpu_cs cs;
	struct pcpu__cache_slab *s;
	intptr_t obj = 0, n;

	if (PCPU__UNLIKELY(!c)) {
		errno = EINVAL;
		return NULL;
	}
	/*
	 * One attempt inline; anything else (another backend or index
	 * source, an abort, an empty or stopped slab) is a tail call, so
	 * that this path needs no saved registers and no stack.
	 */
	cs.flags = PCPU__CS_NOSIG;	/* never in a handler (may lock) */
	cs.tries = 0;
	if (PCPU__UNLIKELY(!pcpu__cs_pick_fast(&cs)))
		return pcpu__cache_alloc_slow(c);
	s = pcpu_cs_ptr(&cs, c->slabs);
	n = __atomic_load_n(&s->n, __ATOMIC_RELAXED);
	/* Empty, or stopped (the sign bit). */
	if (PCPU__UNLIKELY(n <= 0))
		return pcpu__cache_refill(c);
	if (PCPU__UNLIKELY(pcpu_cs_cmpeqv_load_storev(&cs, &s->n, n,
			&s->obj[n - 1], &obj, n - 1) != PCPU_CS_OK))
		return pcpu__cache_alloc_slow(c);
	/* Ours now (acquire: the freeing thread's writes, before ours);
	 * clear the free cookie (see above). */
	PCPU__HB_ACQUIRE((void *)obj);
	*(intptr_t *)obj = 0;
	return (void *)obj;
}

/*
 * pcpu_cache_free - give obj back, to this CPU's slab (any thread may free
 * any object).  Returns 0, or -1 with errno EINVAL (obj is not an
 * allocated object of c: foreign pointer, interior pointer or double free;
 * nothing is changed).  NULL is accepted (returns 0).  One critical
 * section on the fast path.  MT-safe; not async-signal-safe.
 */
PCPU__INLINE int pcpu_cache_free(struct pcpu_cache *c, void *obj)
{
	struct pcpu_cs cs;
	struct pcpu__cache_slab *s;
	intptr_t n;

	if (!obj)
		return 0;
	if (PCPU__UNLIKELY(!c || !pcpu__cache_owns(c, obj)))
		goto bad;
	/* One of our objects, whatever the compiler saw the caller pass
	 * (a foreign pointer never gets here; say so, or it warns). */
	__asm__("" : "+r"(obj));
	if (PCPU__UNLIKELY(*(intptr_t *)obj == c->cookie))
		return pcpu__cache_suspect_free(c, obj);
	*(intptr_t *)obj = c->cookie;
	PCPU__HB_RELEASE(obj);
	/* One attempt inline, as in pcpu_cache_alloc(). */
	cs.flags = PCPU__CS_NOSIG;
	cs.tries = 0;
	if (PCPU__UNLIKELY(!pcpu__cs_pick_fast(&cs)))
		return pcpu__cache_free_slow(c, obj);
	s = pcpu_cs_ptr(&cs, c->slabs);
	n = __atomic_load_n(&s->n, __ATOMIC_RELAXED);
	/* Full, or stopped (negative: huge as unsigned). */
	if (PCPU__UNLIKELY((uintptr_t)n >= c->capacity))
		return pcpu__cache_flush_push(c, obj);
	if (PCPU__UNLIKELY(pcpu_cs_cmpeqv_trystorev_storev(&cs, &s->n, n,
			&s->obj[n], (intptr_t)obj, n + 1) != PCPU_CS_OK))
		return pcpu__cache_free_slow(c, obj);
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/*
 * pcpu_cache_drain - move the free objects of this CPU's slab (the copy
 * the call runs on) and of the spare copy to the depot; with the atomic
 * backend, of every copy.  Returns the number of objects moved, or -1
 * with errno EINVAL.  MT-safe.
 */
long pcpu_cache_drain(struct pcpu_cache *c);

/*
 * pcpu_cache_drain_all - move the free objects of every copy's slab to
 * the depot, each taken back with pcpu_cs_fence() while its CPU may be
 * running sequences (the calling thread does not move).  Returns the
 * number of objects moved, or -1 with errno EINVAL or ENOTSUP (a copy
 * could not be fenced: no membarrier and that CPU is outside this
 * thread's affinity; the objects there stay cached).  MT-safe.
 */
long pcpu_cache_drain_all(struct pcpu_cache *c);

/*
 * pcpu_cache_stats - counts of objects by where they are.  A consistent
 * snapshot under the depot mutex: created == allocated + in_depot +
 * in_cpu always holds, and allocated may include objects that another
 * thread is moving between a slab and the depot at that instant (at most
 * a batch per such thread).  Exact when no alloc or free runs.  Returns
 * 0, or -1 with errno EINVAL.  MT-safe.
 */
int pcpu_cache_stats(struct pcpu_cache *c, struct pcpu_cache_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* PERCPU_CACHE_H */
