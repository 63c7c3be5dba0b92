// SPDX-License-Identifier: MIT
/*
 * Per-CPU object cache: creation, the shared depot and the slow paths.
 * The fast paths and the slab format are in percpu/cache.h.
 *
 * Why slabs of pointers and not per-CPU linked lists.  Both are one
 * critical section per alloc and per free on this layer.  The list pops
 * with cmpnev_storeoffp_load (head, then the head's link, then the new
 * head) and pushes with a link store and a compare-and-store; to keep a
 * caller's writes to its own object clear of a popper's read of the link,
 * the links live out of band, one word per object.  The slab reads the
 * count, then the pointer below it: two loads on neighbouring lines of
 * this CPU's own memory, where the list's second load is a dependent load
 * from a line shared with whoever freed that object last.  A batch moves
 * in or out of a slab with one copy-and-commit sequence; a list batch is a
 * chain to splice.  Measured on this machine (bench cache_alloc_free,
 * pcpu-rseq against pcpu-cs-list, same run): see the numbers in
 * README.md; the slab was faster at every thread count, and is kept.
 *
 * The depot is a stack of pointers (room for max_objects, reserved at
 * creation), under one mutex; so are the counts and the carving of fresh
 * objects.  Batches move between it and a slab through the mover's own
 * buffer: out of a slab with one sequence, into the depot under the
 * mutex (and the reverse), counted in `moving` meanwhile so that an
 * allocation that finds nothing anywhere waits for them instead of
 * reporting ENOMEM.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <time.h>

#include "error.h"
#include "internal.h"

/* Objects per batch: half the capacity, at most this (a stack buffer). */
#define BATCH_MAX	256

struct depot {
	pthread_mutex_t lock;
	struct depot *next;	/* all depots, for fork */
	intptr_t *v;		/* free objects, v[0 .. n - 1] */
	uint64_t n;
	uint64_t created, max, refills, flushes;
	long moving;		/* objects between a slab and here (atomic) */
	size_t objs_len, v_len;
};

/*
 * fork(): a depot mutex held by another thread at fork() would stay held
 * in the child forever.  As in alloc.c, the prepare handler takes every
 * depot's mutex and both sides release them, so the child can use its
 * copy of every cache.  Objects another thread was moving at fork() are
 * lost to the child's copy (that thread does not exist there).
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

static void fork_parent(void)
{
	for (struct depot *d = depots; d; d = d->next)
		pthread_mutex_unlock(&d->lock);
	pthread_mutex_unlock(&depots_lock);
}

static void fork_child(void)
{
	for (struct depot *d = depots; d; d = d->next) {
		d->moving = 0;
		pthread_mutex_unlock(&d->lock);
	}
	pthread_mutex_unlock(&depots_lock);
}

static void atfork_register(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
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

/* A random cookie, never 0 (the first word of a fresh object). */
static intptr_t pick_cookie(void)
{
	uint64_t v = 0;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != sizeof(v))
		v = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull ^
		    (uintptr_t)&v;
	return (intptr_t)(v | 1);
}

static unsigned int log2_exact(size_t v)
{
	return (v & (v - 1)) ? 0 : (unsigned int)__builtin_ctzl(v);
}

struct pcpu_cache *pcpu_cache_create(size_t size, size_t align,
				     size_t max_objects,
				     unsigned int capacity)
{
	struct pcpu_cache *c = NULL;
	struct depot *d = NULL;
	size_t stride;

	pcpu__error_clear();
	if (pcpu__ensure_init()) {
		pcpu__error(errno, "pcpu_cache_create: the library could not "
			    "initialize: %s", pcpu_init_error());
		return NULL;
	}
	if (!align)
		align = _Alignof(max_align_t);
	if (!capacity)
		capacity = PCPU_CACHE_DEFAULT_CAPACITY;
	if (!size || size > (1ul << 30)) {
		pcpu__error(EINVAL, "pcpu_cache_create: size %zu: must be 1 "
			    ".. 2^30", size);
		return NULL;
	}
	if (align & (align - 1) || align > 4096) {
		pcpu__error(EINVAL, "pcpu_cache_create: align %zu: must be a "
			    "power of two up to 4096, or 0", align);
		return NULL;
	}
	if (!max_objects || max_objects > PCPU_CACHE_MAX_OBJECTS) {
		pcpu__error(EINVAL, "pcpu_cache_create: max_objects %zu: must "
			    "be 1 .. %llu", max_objects,
			    (unsigned long long)PCPU_CACHE_MAX_OBJECTS);
		return NULL;
	}
	if (capacity > PCPU_CACHE_MAX_CAPACITY) {
		pcpu__error(EINVAL, "pcpu_cache_create: capacity %u: must be "
			    "at most %u, or 0", capacity,
			    PCPU_CACHE_MAX_CAPACITY);
		return NULL;
	}
	/* Room and alignment for the free cookie's word. */
	if (align < sizeof(intptr_t))
		align = sizeof(intptr_t);
	if (size < sizeof(intptr_t))
		size = sizeof(intptr_t);
	stride = (size + align - 1) & ~(align - 1);
	/* The reciprocal index is exact below 2^64 for off * stride (see
	 * cache.h): beyond, a power-of-two stride makes it a shift. */
	if (!log2_exact(stride) && (stride >= (1ul << 24) ||
				    max_objects >= (1ul << 40) / stride)) {
		while (stride & (stride - 1))
			stride += stride & -stride;
	}
	if (max_objects > SIZE_MAX / stride) {
		pcpu__error(EINVAL, "pcpu_cache_create: %zu objects of %zu "
			    "bytes overflow the address space", max_objects,
			    stride);
		return NULL;
	}

	c = calloc(1, sizeof(*c));
	d = calloc(1, sizeof(*d));
	if (!c || !d) {
		pcpu__error(ENOMEM, "pcpu_cache_create: out of memory");
		goto nomem;
	}
	pthread_mutex_init(&d->lock, NULL);
	c->depot = d;
	c->stride = stride;
	c->shift = log2_exact(stride);
	c->recip = c->shift ? 0 : UINT64_MAX / stride + 1;
	c->limit = max_objects * stride;
	c->nobj = max_objects;
	c->capacity = capacity;
	c->cookie = pick_cookie();
	d->max = max_objects;
	d->objs_len = c->limit;
	d->v_len = max_objects * sizeof(intptr_t);
	c->base = reserve(d->objs_len);
	d->v = reserve(d->v_len);
	/* Every copy's slab reads as an empty, running one: all zero. */
	if (!c->base || !d->v) {
		pcpu__error(ENOMEM, "pcpu_cache_create: cannot reserve %zu "
			    "bytes of address space for %zu objects",
			    d->objs_len + d->v_len, max_objects);
		goto nomem;
	}
	c->slabs = pcpu_alloc(sizeof(struct pcpu__cache_slab) +
			      (size_t)capacity * sizeof(intptr_t), 64);
	if (!c->slabs) {
		/* pcpu_alloc() said why (a full stride, usually); say what
		 * in this call asked for it. */
		char why[PCPU_ERROR_MAX];

		snprintf(why, sizeof(why), "%s", pcpu_last_error());
		pcpu__error(ENOMEM, "pcpu_cache_create: the per-CPU slab "
			    "of capacity %u: %s", capacity, why);
		goto nomem;
	}
	depot_link(d);
	return c;
nomem:
	{
		/* The message outlives the clean-up (pcpu_free() in it
		 * clears the thread's message). */
		char why[PCPU_ERROR_MAX];

		snprintf(why, sizeof(why), "%s", pcpu_last_error());
		if (c) {
			c->depot = d;	/* destroy frees it */
			pcpu_cache_destroy(c);
		} else {
			free(d);
		}
		pcpu__error(ENOMEM, "%s", why);
	}
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
	if (c->slabs)
		pcpu_free(c->slabs);
	if (d) {
		depot_unlink(d);
		if (c->base)
			munmap(c->base, d->objs_len);
		if (d->v)
			munmap(d->v, d->v_len);
		pthread_mutex_destroy(&d->lock);
		free(d);
	}
	free(c);
	return 0;
}

static void moving_add(struct depot *d, long n)
{
	__atomic_fetch_add(&d->moving, n, __ATOMIC_RELAXED);
}

/* Objects into the depot (the mover stops counting them as moving). */
static void depot_put(struct pcpu_cache *c, const intptr_t *v, uint64_t n,
		      int flush)
{
	struct depot *d = c->depot;

	if (!n)
		return;
	pthread_mutex_lock(&d->lock);
	/* Cannot overflow: the depot has room for every object. */
	memcpy(&d->v[d->n], v, n * sizeof(*v));
	d->n += n;
	if (flush)
		d->flushes++;
	moving_add(d, -(long)n);
	pthread_mutex_unlock(&d->lock);
}

/*
 * Up to want objects out of the depot, or freshly carved; they count as
 * moving until they reach a slab or a caller.  Returns how many.
 */
static uint64_t depot_get(struct pcpu_cache *c, intptr_t *v, uint64_t want)
{
	struct depot *d = c->depot;
	uint64_t got;

	pthread_mutex_lock(&d->lock);
	if (d->n) {
		got = d->n < want ? d->n : want;
		d->n -= got;
		memcpy(v, &d->v[d->n], got * sizeof(*v));
	} else {
		got = d->max - d->created < want ? d->max - d->created : want;
		for (uint64_t j = 0; j < got; j++)
			v[j] = (intptr_t)(c->base +
					  (d->created + j) * c->stride);
		d->created += got;
		/* Before any of them leaves this mutex (cache.h, owns()). */
		__atomic_store_n(&c->carved, d->created, __ATOMIC_RELAXED);
	}
	if (got) {
		d->refills++;
		moving_add(d, (long)got);
	}
	pthread_mutex_unlock(&d->lock);
	return got;
}

static unsigned int batch_of(const struct pcpu_cache *c)
{
	unsigned int b = c->capacity / 2;

	return b > BATCH_MAX ? BATCH_MAX : b ? b : 1;
}

/*
 * Take every object out of copy k's slab, wherever its CPU is: stop it,
 * fence it, take, restart it (see cache.h).  Returns the number moved to
 * the depot, 0 when it was empty or someone else is stopping it, -1 when
 * the fence is impossible (ENOTSUP).
 */
static long steal(struct pcpu_cache *c, unsigned int k)
{
	struct pcpu__cache_slab *s = pcpu_ptr(c->slabs, k);
	intptr_t n = __atomic_load_n(&s->n, __ATOMIC_RELAXED), m;
	intptr_t buf[256];
	long moved = 0;

	for (;;) {
		if (n <= 0)
			return 0;	/* empty, or another thief's */
		/* Acquire/release: pairs with the clearing store below of a
		 * previous thief, and publishes the mark to the fence. */
		if (!__atomic_compare_exchange_n(&s->n, &n,
						 n | PCPU__CACHE_STOP, 0,
						 __ATOMIC_ACQ_REL,
						 __ATOMIC_RELAXED))
			continue;
		if (pcpu_cs_fence(k)) {
			/*
			 * Undo, only if the mark is still ours: a sequence on
			 * that CPU that compared n before the mark may have
			 * committed after it (a pop leaves n - 1, its object
			 * handed out), and putting n back would make that
			 * object free and allocated at once.  A failed
			 * exchange leaves what the CPU wrote: a live count
			 * (or a later thief's mark), nothing taken.  The
			 * exchange succeeding on a count that went back to
			 * n | STOP is another thief's mark: it sees its mark
			 * gone after its fence and marks again.
			 */
			intptr_t mark = n | PCPU__CACHE_STOP;

			__atomic_compare_exchange_n(&s->n, &mark, n, 0,
						    __ATOMIC_RELEASE,
						    __ATOMIC_RELAXED);
			return -1;
		}
		m = __atomic_load_n(&s->n, __ATOMIC_ACQUIRE);
		if (m & PCPU__CACHE_STOP)
			break;
		/* A sequence committed between our mark and the fence and
		 * overwrote it: mark the value it left. */
		n = m;
	}
	m &= ~PCPU__CACHE_STOP;
	if ((uintptr_t)m > c->capacity)
		m = c->capacity;	/* cannot happen; never read beyond */
	moving_add(c->depot, (long)m);
	/* Nothing on that CPU touches a stopped slab: copy out in chunks. */
	while (m > 0) {
		intptr_t chunk = m < 256 ? m : 256;

		m -= chunk;
		memcpy(buf, &s->obj[m], (size_t)chunk * sizeof(intptr_t));
		__atomic_store_n(&s->n, m | PCPU__CACHE_STOP,
				 __ATOMIC_RELAXED);
		depot_put(c, buf, (uint64_t)chunk, 1);
		moved += chunk;
	}
	/* Release: the emptied slab before it runs again. */
	__atomic_store_n(&s->n, 0, __ATOMIC_RELEASE);
	return moved;
}

/* Steal from every copy but the one this thread would use. */
static long steal_all(struct pcpu_cache *c, int skip_mine)
{
	unsigned int mine = pcpu_index(), n = pcpu_nr_copies();
	long moved = 0, r;
	int nosup = 0;

	for (unsigned int k = 0; k < n; k++) {
		if (skip_mine && k == mine)
			continue;
		r = steal(c, k);
		if (r < 0)
			nosup = 1;
		else
			moved += r;
	}
	if (nosup && !moved) {
		errno = ENOTSUP;
		return -1;
	}
	return moved;
}

/*
 * Put v[0 .. n - 1] into this CPU's slab with one sequence; what does not
 * fit (or a stopped slab) goes back to the depot.  The objects stop
 * counting as moving either way.
 */
static void slab_fill(struct pcpu_cache *c, intptr_t *v, uint64_t n)
{
	struct pcpu_cs cs;
	intptr_t room = 0;
	int r = PCPU_CS_FAIL;

	for (pcpu_cs_begin_nosig(&cs); n; pcpu_cs_next(&cs)) {
		struct pcpu__cache_slab *s = pcpu_cs_ptr(&cs, c->slabs);
		intptr_t have = __atomic_load_n(&s->n, __ATOMIC_RELAXED);

		if (have < 0 || (uintptr_t)have >= c->capacity) {
			room = 0;
			break;
		}
		room = (intptr_t)c->capacity - have;
		if ((uint64_t)room > n)
			room = (intptr_t)n;
		r = pcpu_cs_cmpeqv_trymemcpy_storev(&cs, &s->n, have,
				&s->obj[have], v, (size_t)room * sizeof(*v),
				have + room);
		if (r == PCPU_CS_OK)
			break;
	}
	if (r == PCPU_CS_OK)
		moving_add(c->depot, -(long)room);
	else
		room = 0;
	depot_put(c, v + room, n - (uint64_t)room, 0);
}

/*
 * The fast paths' loops, out of line: every backend and index source,
 * retrying aborts, and the slow paths when the slab is empty or full.
 */
void *pcpu__cache_alloc_slow(struct pcpu_cache *c)
{
	struct pcpu_cs cs;
	intptr_t obj = 0;

	for (pcpu_cs_begin_nosig(&cs);; pcpu_cs_next(&cs)) {
		struct pcpu__cache_slab *s = pcpu_cs_ptr(&cs, c->slabs);
		intptr_t n = __atomic_load_n(&s->n, __ATOMIC_RELAXED);

		if (n <= 0)
			return pcpu__cache_refill(c);
		if (pcpu_cs_cmpeqv_load_storev(&cs, &s->n, n, &s->obj[n - 1],
					       &obj, n - 1) == PCPU_CS_OK)
			break;
	}
	PCPU__HB_ACQUIRE((void *)obj);
	*(intptr_t *)obj = 0;
	return (void *)obj;
}

/* obj is valid and already holds the cookie. */
int pcpu__cache_free_slow(struct pcpu_cache *c, void *obj)
{
	struct pcpu_cs cs;

	for (pcpu_cs_begin_nosig(&cs);; pcpu_cs_next(&cs)) {
		struct pcpu__cache_slab *s = pcpu_cs_ptr(&cs, c->slabs);
		intptr_t n = __atomic_load_n(&s->n, __ATOMIC_RELAXED);

		if ((uintptr_t)n >= c->capacity)
			return pcpu__cache_flush_push(c, obj);
		if (pcpu_cs_cmpeqv_trystorev_storev(&cs, &s->n, n, &s->obj[n],
						    (intptr_t)obj, n + 1) ==
		    PCPU_CS_OK)
			return 0;
	}
}

void *pcpu__cache_refill(struct pcpu_cache *c)
{
	struct depot *d = c->depot;
	intptr_t v[BATCH_MAX];
	uint64_t got;
	long stolen;
	void *obj;

	for (;;) {
		got = depot_get(c, v, batch_of(c));
		if (got)
			break;
		/* Nothing in the depot, nothing left to carve: take the
		 * objects cached on other CPUs back. */
		stolen = steal_all(c, 0);
		if (stolen > 0)
			continue;
		/* Others are moving objects right now: they will land. */
		if (__atomic_load_n(&d->moving, __ATOMIC_RELAXED) > 0) {
			sched_yield();
			continue;
		}
		errno = ENOMEM;
		return NULL;
	}
	obj = (void *)v[got - 1];
	moving_add(d, -1);
	slab_fill(c, v, got - 1);
	PCPU__HB_ACQUIRE(obj);
	*(intptr_t *)obj = 0;	/* ours: clear the free cookie */
	return obj;
}

/*
 * Free with this CPU's slab full (or stopped): move the top half of it to
 * the depot with one sequence, then push obj.  obj already holds the
 * cookie.
 */
int pcpu__cache_flush_push(struct pcpu_cache *c, void *obj)
{
	struct pcpu_cs cs;
	intptr_t v[BATCH_MAX], take = 0, one = (intptr_t)obj;
	int r = PCPU_CS_FAIL;

	for (pcpu_cs_begin_nosig(&cs);; pcpu_cs_next(&cs)) {
		struct pcpu__cache_slab *s = pcpu_cs_ptr(&cs, c->slabs);
		intptr_t have = __atomic_load_n(&s->n, __ATOMIC_RELAXED);

		if (have < 0) {
			/* Stopped by a thief: the depot takes obj. */
			moving_add(c->depot, 1);
			depot_put(c, &one, 1, 0);
			return 0;
		}
		if ((uintptr_t)have < c->capacity) {
			/* Room again (someone allocated): a plain push. */
			r = pcpu_cs_cmpeqv_trystorev_storev(&cs, &s->n, have,
					&s->obj[have], one, have + 1);
			if (r == PCPU_CS_OK)
				return 0;
			continue;
		}
		take = (intptr_t)batch_of(c);
		/* Copy the top of the slab out, then commit the lower count:
		 * the copy is ours once the count no longer covers it. */
		r = pcpu_cs_cmpeqv_trymemcpy_storev(&cs, &s->n, have, v,
				&s->obj[have - take],
				(size_t)take * sizeof(intptr_t), have - take);
		if (r == PCPU_CS_OK)
			break;
	}
	moving_add(c->depot, (long)take);
	depot_put(c, v, (uint64_t)take, 1);
	/* Now there is room, unless others filled it meanwhile: retry from
	 * the top (which flushes again if so), as a free of an allocated
	 * object again. */
	*(intptr_t *)obj = 0;
	return pcpu_cache_free(c, obj);
}

/* Is obj among the free objects (a slab or the depot)?  Under the depot
 * lock, so nothing enters or leaves the depot meanwhile. */
static int is_free(struct pcpu_cache *c, void *obj)
{
	struct depot *d = c->depot;
	int found = 0;

	pthread_mutex_lock(&d->lock);
	for (uint64_t j = 0; j < d->n && !found; j++)
		found = d->v[j] == (intptr_t)obj;
	for (unsigned int k = 0; k < pcpu_nr_copies() && !found; k++) {
		struct pcpu__cache_slab *s = pcpu_ptr(c->slabs, k);
		intptr_t n = __atomic_load_n(&s->n, __ATOMIC_RELAXED);

		n &= ~PCPU__CACHE_STOP;
		if ((uintptr_t)n > c->capacity)
			n = c->capacity;
		for (intptr_t j = 0; j < n && !found; j++)
			found = __atomic_load_n(&s->obj[j], __ATOMIC_RELAXED) ==
				(intptr_t)obj;
	}
	pthread_mutex_unlock(&d->lock);
	return found;
}

/*
 * A free of an object whose first word holds the cookie: a double free,
 * or an object whose owner stored exactly that value.  Found among the
 * free objects: refused; else freed after all.
 */
int pcpu__cache_suspect_free(struct pcpu_cache *c, void *obj)
{
	if (is_free(c, obj)) {
		errno = EINVAL;
		return -1;
	}
	*(intptr_t *)obj = 0;
	return pcpu_cache_free(c, obj) == 0 ? 0 : -1;
}

long pcpu_cache_drain(struct pcpu_cache *c)
{
	unsigned int mine, spare;
	long n, r;

	if (!c) {
		errno = EINVAL;
		return -1;
	}
	if (pcpu__k() & PCPU__F_CS_LOCKED) {
		n = steal_all(c, 0);
		return n < 0 ? 0 : n;
	}
	mine = pcpu_index();
	spare = pcpu_nr_copies() - 1;
	n = steal(c, mine);
	if (n < 0)
		n = 0;
	if (mine != spare) {
		r = steal(c, spare);
		n += r > 0 ? r : 0;
	}
	return n;
}

long pcpu_cache_drain_all(struct pcpu_cache *c)
{
	if (!c) {
		errno = EINVAL;
		return -1;
	}
	return steal_all(c, 0);
}

int pcpu_cache_stats(struct pcpu_cache *c, struct pcpu_cache_stats *st)
{
	struct depot *d;
	uint64_t in_cpu = 0;

	if (!c || !st) {
		errno = EINVAL;
		return -1;
	}
	d = c->depot;
	memset(st, 0, sizeof(*st));
	/*
	 * Under the depot mutex nothing enters or leaves the depot, so an
	 * object is counted at most once: objects only move between a slab
	 * and the depot through a mover's hands, which this read counts as
	 * allocated (a slight overcount, never an absurd number).
	 */
	pthread_mutex_lock(&d->lock);
	for (unsigned int k = 0; k < pcpu_nr_copies(); k++) {
		intptr_t n = __atomic_load_n(&pcpu_ptr(c->slabs, k)->n,
					     __ATOMIC_RELAXED);

		n &= ~PCPU__CACHE_STOP;
		in_cpu += (uintptr_t)n > c->capacity ? c->capacity :
						       (uint64_t)n;
	}
	st->max_objects = d->max;
	st->created = d->created;
	st->in_depot = d->n;
	st->refills = d->refills;
	st->flushes = d->flushes;
	pthread_mutex_unlock(&d->lock);
	/* A slab count read a moment before its objects were handed out
	 * cannot exceed what exists: clamp, and the census adds up. */
	if (in_cpu > st->created - st->in_depot)
		in_cpu = st->created - st->in_depot;
	st->in_cpu = in_cpu;
	st->allocated = st->created - st->in_depot - st->in_cpu;
	return 0;
}
