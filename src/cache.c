// SPDX-License-Identifier: MIT
/*
 * Per-CPU object cache: creation, the shared depot and the slow paths.
 * The fast paths and the list format are in percpu/cache.h.
 *
 * The depot is a stack of batches, each a complete free list (head index
 * and length; the links inside carry their depths), under one mutex.
 * Batches move whole: a full CPU list is detached with one cmpxchg and
 * pushed as it is; an empty CPU list receives one batch with one cmpxchg.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "internal.h"

struct batch {
	uint32_t head;
	uint32_t n;
};

struct depot {
	pthread_mutex_t lock;
	struct depot *next;	/* all depots, for fork */
	struct batch *v;	/* reserved for max_objects entries */
	size_t n;
	uint64_t created, max, in_depot, refills, flushes;
	size_t links_len, objs_len, batches_len;
};

/*
 * fork(): a depot mutex held by another thread at fork() would stay held
 * in the child forever.  As in alloc.c, the prepare handler takes every
 * depot's mutex and both sides release them, so the child can use its
 * copy of every cache.
 */
static pthread_mutex_t depots_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;
static struct depot *depots;

static void fork_prepare(void)
{
	pthread_mutex_lock(&depots_lock);
	for (struct depot *d = depots; d; d = d->next)
		pthread_mutex_lock(&d->lock);
}

static void fork_release(void)
{
	for (struct depot *d = depots; d; d = d->next)
		pthread_mutex_unlock(&d->lock);
	pthread_mutex_unlock(&depots_lock);
}

static void atfork_register(void)
{
	pthread_atfork(fork_prepare, fork_release, fork_release);
}

static void depot_link(struct depot *d)
{
	pthread_once(&atfork_once, atfork_register);
	pthread_mutex_lock(&depots_lock);
	d->next = depots;
	depots = d;
	pthread_mutex_unlock(&depots_lock);
}

static void depot_unlink(struct depot *d)
{
	pthread_mutex_lock(&depots_lock);
	for (struct depot **pp = &depots; *pp; pp = &(*pp)->next) {
		if (*pp == d) {
			*pp = d->next;
			break;
		}
	}
	pthread_mutex_unlock(&depots_lock);
}

static void *reserve(size_t len)
{
	void *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	return p == MAP_FAILED ? NULL : p;
}

static unsigned int bits_for(unsigned int n)
{
	unsigned int b = 0;

	while ((1u << b) < n)
		b++;
	return b;
}

struct pcpu_cache *pcpu_cache_create(size_t size, size_t align,
				     size_t max_objects,
				     unsigned int capacity)
{
	struct pcpu_cache *c = NULL;
	struct depot *d = NULL;
	unsigned int cbits, k;
	size_t stride;

	if (pcpu__ensure_init())
		return NULL;
	if (!align)
		align = _Alignof(max_align_t);
	if (!size || align & (align - 1) || align > 4096 || !max_objects ||
	    max_objects > PCPU_CACHE_MAX_OBJECTS || size > (1ul << 30) ||
	    capacity > (1u << 20))
		goto inval;
	stride = (size + align - 1) & ~(align - 1);
	if (max_objects > SIZE_MAX / stride)
		goto inval;
	cbits = bits_for(pcpu_nr_copies());
	if (cbits > 20)
		goto inval;

	c = calloc(1, sizeof(*c));
	d = calloc(1, sizeof(*d));
	if (!c || !d)
		goto nomem;
	pthread_mutex_init(&d->lock, NULL);
	c->depot = d;
	c->stride = stride;
	c->shift = (stride & (stride - 1)) ? 0 :
		   (unsigned int)__builtin_ctzl(stride);
	c->limit = max_objects * stride;
	c->capacity = capacity ? capacity : PCPU_CACHE_DEFAULT_CAPACITY;
	c->tag_inc = UINT64_C(1) << (PCPU_CACHE_IDX_BITS + cbits);
	d->max = max_objects;
	d->objs_len = c->limit;
	d->links_len = max_objects * sizeof(uint64_t);
	d->batches_len = max_objects * sizeof(struct batch);
	c->base = reserve(d->objs_len);
	c->links = reserve(d->links_len);
	d->v = reserve(d->batches_len);
	c->heads = PCPU_ALLOC(uint64_t);
	if (!c->base || !c->links || !d->v || !c->heads)
		goto nomem;
	/* Each copy's tag starts as its own index (see cache.h). */
	for (k = 0; k < pcpu_nr_copies(); k++)
		__atomic_store_n(pcpu_ptr(c->heads, k),
				 PCPU_CACHE_EMPTY |
				 (uint64_t)k << PCPU_CACHE_IDX_BITS,
				 __ATOMIC_RELAXED);
	depot_link(d);
	return c;
inval:
	errno = EINVAL;
	return NULL;
nomem:
	if (c) {
		c->depot = d;	/* destroy frees it */
		pcpu_cache_destroy(c);
	} else {
		free(d);
	}
	errno = ENOMEM;
	return NULL;
}

int pcpu_cache_destroy(struct pcpu_cache *c)
{
	struct depot *d;

	if (!c) {
		errno = EINVAL;
		return -1;
	}
	d = c->depot;
	if (c->heads)
		pcpu_free(c->heads);
	if (d) {
		depot_unlink(d);
		if (c->base)
			munmap(c->base, d->objs_len);
		if (c->links)
			munmap(c->links, d->links_len);
		if (d->v)
			munmap(d->v, d->batches_len);
		pthread_mutex_destroy(&d->lock);
		free(d);
	}
	free(c);
	return 0;
}

static void depot_push(struct pcpu_cache *c, uint32_t head, uint32_t n)
{
	struct depot *d = c->depot;

	pthread_mutex_lock(&d->lock);
	/* Cannot overflow: every batch holds at least one of max objects. */
	d->v[d->n++] = (struct batch){ head, n };
	d->in_depot += n;
	pthread_mutex_unlock(&d->lock);
}

/* A batch from the depot, or fresh objects; 0 when there is none. */
static int depot_pop(struct pcpu_cache *c, struct batch *b)
{
	struct depot *d = c->depot;
	uint64_t k, first;
	int ret = 1;

	pthread_mutex_lock(&d->lock);
	if (d->n) {
		*b = d->v[--d->n];
		d->in_depot -= b->n;
	} else if (d->created < d->max) {
		k = d->max - d->created;
		if (k > c->capacity)
			k = c->capacity;
		first = d->created;
		for (uint64_t j = 0; j < k; j++) {
			uint64_t next = j + 1 < k ? first + j + 1 :
						    PCPU_CACHE_EMPTY;

			__atomic_store_n(&c->links[first + j],
					 (k - j) << 32 | next,
					 __ATOMIC_RELAXED);
		}
		d->created += k;
		*b = (struct batch){ (uint32_t)first, (uint32_t)k };
	} else {
		ret = 0;
	}
	if (ret)
		d->refills++;
	pthread_mutex_unlock(&d->lock);
	return ret;
}

/* Install list (head, n) as this CPU's list if that is empty; else the
 * depot takes it back. */
static void install(struct pcpu_cache *c, uint32_t head, uint32_t n)
{
	uint64_t old = this_cpu_read(c->heads), seen;

	while ((old & PCPU_CACHE_IDX_MASK) == PCPU_CACHE_EMPTY) {
		/* Release: the batch's links before the head; pairs with
		 * the acquire in pcpu_cache_alloc(). */
		PCPU__FENCE_REL();
		seen = this_cpu_cmpxchg(c->heads, old,
					pcpu__cache_next_head(c, old, head));
		if (seen == old)
			return;
		old = seen;
	}
	depot_push(c, head, n);
}

void *pcpu__cache_refill(struct pcpu_cache *c)
{
	struct batch b;
	uint64_t rest;
	char *obj;

	if (!depot_pop(c, &b)) {
		errno = ENOMEM;
		return NULL;
	}
	rest = __atomic_load_n(&c->links[b.head], __ATOMIC_RELAXED) &
	       PCPU_CACHE_IDX_MASK;
	if (rest != PCPU_CACHE_EMPTY)
		install(c, (uint32_t)rest, b.n - 1);
	__atomic_store_n(&c->links[b.head], PCPU_CACHE_ALLOCATED,
			 __ATOMIC_RELAXED);
	obj = c->base + (uint64_t)b.head * c->stride;
	PCPU__HB_ACQUIRE(obj);
	return obj;
}

/* Depth of the list starting at h (0 if empty); meaningful only while h
 * stays the head, which the caller's cmpxchg then confirms. */
static uint64_t depth_of(struct pcpu_cache *c, uint64_t h)
{
	if (h == PCPU_CACHE_EMPTY)
		return 0;
	return __atomic_load_n(&c->links[h], __ATOMIC_RELAXED) >> 32;
}

/* Free with this CPU's list full: detach the list (it goes to the depot
 * as one batch) and leave idx alone in its place. */
int pcpu__cache_flush_push(struct pcpu_cache *c, uint32_t idx)
{
	struct depot *d = c->depot;
	uint64_t old = this_cpu_read(c->heads), seen, h, depth;

	for (;;) {
		h = old & PCPU_CACHE_IDX_MASK;
		depth = depth_of(c, h);
		if (depth < c->capacity) {
			/* Someone emptied it meanwhile: a plain push. */
			__atomic_store_n(&c->links[idx], (depth + 1) << 32 | h,
					 __ATOMIC_RELAXED);
		} else {
			__atomic_store_n(&c->links[idx],
					 UINT64_C(1) << 32 | PCPU_CACHE_EMPTY,
					 __ATOMIC_RELAXED);
		}
		/* Release: pairs with the acquire in pcpu_cache_alloc(). */
		PCPU__FENCE_REL();
		seen = this_cpu_cmpxchg(c->heads, old,
					pcpu__cache_next_head(c, old, idx));
		if (seen == old)
			break;
		old = seen;
	}
	if (depth >= c->capacity) {
		/* The detached list is ours: nobody can pop from it now. */
		PCPU__FENCE_ACQ();
		depot_push(c, (uint32_t)h, (uint32_t)depth);
		pthread_mutex_lock(&d->lock);
		d->flushes++;
		pthread_mutex_unlock(&d->lock);
	}
	return 0;
}

/* Detach the whole list of the copy this runs on. */
static long drain_local(struct pcpu_cache *c)
{
	uint64_t old = this_cpu_read(c->heads), seen, h, depth;

	for (;;) {
		h = old & PCPU_CACHE_IDX_MASK;
		if (h == PCPU_CACHE_EMPTY)
			return 0;
		depth = depth_of(c, h);
		seen = this_cpu_cmpxchg(c->heads, old,
			pcpu__cache_next_head(c, old, PCPU_CACHE_EMPTY));
		if (seen == old)
			break;
		old = seen;
	}
	PCPU__FENCE_ACQ();
	depot_push(c, (uint32_t)h, (uint32_t)depth);
	return (long)depth;
}

/*
 * Detach the list of copy k from any CPU.  Safe only where every writer
 * of that copy uses locked instructions too: the spare copy (written only
 * by the fallback path of the atomic primitives) and, with the atomic
 * backend, every copy.  An rseq or gs commit is not atomic against
 * another CPU.
 */
static long drain_remote(struct pcpu_cache *c, unsigned int k)
{
	uint64_t *w = pcpu_ptr(c->heads, k);
	uint64_t old = __atomic_load_n(w, __ATOMIC_RELAXED), h, depth;

	for (;;) {
		h = old & PCPU_CACHE_IDX_MASK;
		if (h == PCPU_CACHE_EMPTY)
			return 0;
		depth = depth_of(c, h);
		if (__atomic_compare_exchange_n(w, &old,
				pcpu__cache_next_head(c, old, PCPU_CACHE_EMPTY),
				0, __ATOMIC_ACQUIRE, __ATOMIC_RELAXED))
			break;
	}
	depot_push(c, (uint32_t)h, (uint32_t)depth);
	return (long)depth;
}

long pcpu_cache_drain(struct pcpu_cache *c)
{
	long n;
	unsigned int k;

	if (!c) {
		errno = EINVAL;
		return -1;
	}
	n = drain_local(c);
	if (pcpu__rt.backend == PCPU__BK_ATOMIC) {
		for (k = 0; k < pcpu_nr_copies(); k++)
			n += drain_remote(c, k);
	} else {
		n += drain_remote(c, pcpu_nr_copies() - 1);
	}
	return n;
}

long pcpu_cache_drain_all(struct pcpu_cache *c)
{
	cpu_set_t saved, one;
	long n = 0;
	int cpu;

	if (!c) {
		errno = EINVAL;
		return -1;
	}
	if (pcpu__rt.backend == PCPU__BK_ATOMIC)
		return pcpu_cache_drain(c);
	if (pcpu_index_source() == PCPU_INDEX_CID ||
	    !strcmp(pcpu_backend_name(), "gs-pinned")) {
		errno = ENOTSUP;
		return -1;
	}
	if (sched_getaffinity(0, sizeof(saved), &saved))
		return -1;
	for (cpu = 0; cpu < CPU_SETSIZE; cpu++) {
		if (!CPU_ISSET(cpu, &saved))
			continue;
		CPU_ZERO(&one);
		CPU_SET(cpu, &one);
		if (sched_setaffinity(0, sizeof(one), &one))
			continue;
		n += drain_local(c);
	}
	n += drain_remote(c, pcpu_nr_copies() - 1);
	if (sched_setaffinity(0, sizeof(saved), &saved))
		return -1;
	return n;
}

int pcpu_cache_stats(struct pcpu_cache *c, struct pcpu_cache_stats *st)
{
	struct depot *d;
	unsigned int k;

	if (!c || !st) {
		errno = EINVAL;
		return -1;
	}
	d = c->depot;
	memset(st, 0, sizeof(*st));
	for (k = 0; k < pcpu_nr_copies(); k++) {
		uint64_t h = __atomic_load_n(pcpu_ptr(c->heads, k),
					     __ATOMIC_ACQUIRE);

		st->in_cpu += depth_of(c, h & PCPU_CACHE_IDX_MASK);
	}
	pthread_mutex_lock(&d->lock);
	st->max_objects = d->max;
	st->created = d->created;
	st->in_depot = d->in_depot;
	st->refills = d->refills;
	st->flushes = d->flushes;
	pthread_mutex_unlock(&d->lock);
	st->allocated = st->created - st->in_depot - st->in_cpu;
	return 0;
}
