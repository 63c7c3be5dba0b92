// SPDX-License-Identifier: MIT
/*
 * Per-CPU ring buffers: creation, the writers' slow paths (padding, page
 * entry and step-over, space, wake-up) and the consumer.  The format, the
 * algorithm and the writers' fast paths are in percpu/ring.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/futex.h>
#include <linux/magic.h>
#include <linux/membarrier.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "internal.h"

#define SHARED_HDR_SPACE	4096
#define ROUND_UP(x, a)		(((x) + (a) - 1) & ~((uint64_t)(a) - 1))

static unsigned int log2_of(uint64_t v)
{
	return (unsigned int)__builtin_ctzll(v);
}

static int pow2(uint64_t v)
{
	return v && !(v & (v - 1));
}

static uint64_t pick_salt(void)
{
	uint64_t s = 0;

	if (getrandom(&s, sizeof(s), GRND_NONBLOCK) != sizeof(s))
		s = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull ^
		    (uintptr_t)&s;
	return s;
}

static long membarrier(int cmd)
{
	return syscall(SYS_membarrier, cmd, 0, 0);
}

/* ---- record headers, for writers and the consumer --------------------- */

enum hdr_kind {
	HDR_NONE,	/* not this position's header */
	HDR_PENDING,	/* reserved, not committed, fits its page */
	HDR_RECORD,	/* committed record that fits its page */
	HDR_PAD,	/* padding to the end of the page */
	HDR_BAD,	/* this position's stamp, but inconsistent */
};

/*
 * What the word w found at position t is (t 8-aligned, at least a header
 * before its page end).  Only the stamp of t says that a writer wrote it
 * on this lap; the flags and the length are then checked against what a
 * writer can produce: a padding record is committed and ends the page, a
 * record fits its page.
 */
static enum hdr_kind classify(uint64_t salt, uint64_t page_size, uint64_t t,
			      uint64_t w)
{
	uint64_t room = page_size - (t & (page_size - 1));
	uint64_t len = w & PCPU_RING_LEN_MASK;

	if ((w ^ pcpu__ring_stamp(salt, t)) >> PCPU_RING_STAMP_SHIFT)
		return HDR_NONE;
	if (w & PCPU_RING_PAD)
		return (w & PCPU_RING_COMMITTED) && len == room ? HDR_PAD :
								  HDR_BAD;
	if (PCPU_RING_HDR_SIZE + ROUND_UP(len, 8) > room)
		return HDR_BAD;
	return w & PCPU_RING_COMMITTED ? HDR_RECORD : HDR_PENDING;
}

static uint64_t rec_size(uint64_t w)
{
	return PCPU_RING_HDR_SIZE + ROUND_UP(w & PCPU_RING_LEN_MASK, 8);
}

/* ---- creation --------------------------------------------------------- */

struct pcpu_ring *pcpu_ring_create(const struct pcpu_ring_params *params)
{
	struct pcpu_ring_params p = { 0, 0, 0 };
	struct pcpu_ring_shared *sh;
	struct pcpu_ring *r;
	uint64_t npages, ctl_off, page_off, data_off, total;
	unsigned int nbufs, k;
	int err;

	if (pcpu__ensure_init())
		return NULL;
	if (params)
		p = *params;
	if (!p.buf_size)
		p.buf_size = (size_t)1 << 20;
	if (!p.page_size)
		p.page_size = 4096;
	if (!pow2(p.buf_size) || !pow2(p.page_size) ||
	    p.page_size < PCPU_RING_MIN_PAGE || p.page_size > p.buf_size ||
	    p.page_size > PCPU_RING_MAX_PAGE ||
	    p.buf_size > PCPU_RING_MAX_BUF ||
	    (p.flags & ~(PCPU_RING_OVERWRITE | PCPU_RING_NO_CLOCK))) {
		errno = EINVAL;
		return NULL;
	}
	nbufs = pcpu_nr_copies();
	if (nbufs > PCPU_RING_MAX_BUFS) {
		errno = EINVAL;
		return NULL;
	}
	npages = p.buf_size / p.page_size;
	ctl_off = SHARED_HDR_SPACE;
	page_off = ctl_off + (uint64_t)nbufs * sizeof(struct pcpu_ring_ctl);
	data_off = ROUND_UP(page_off + nbufs * npages * sizeof(uint64_t),
			    4096);
	total = data_off + (uint64_t)nbufs * p.buf_size;

	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
	r->mem = NULL;
	r->resv = NULL;
	/* Without memfd (seccomp, or a kernel without TMPFS): an anonymous
	 * shared mapping, readable by this process and its fork children;
	 * pcpu_ring_fd() then says -1. */
	r->fd = memfd_create("pcpu_ring", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (r->fd < 0 && errno != ENOSYS && errno != EPERM)
		goto fail;
	/* Sealed size: a process holding the fd cannot truncate it under a
	 * consumer's mapping (SIGBUS there), nor change the seals; the
	 * consumer's open_fd checks them. */
	if (r->fd >= 0 && (ftruncate(r->fd, (off_t)total) ||
			   fcntl(r->fd, F_ADD_SEALS, F_SEAL_SHRINK |
				 F_SEAL_GROW | F_SEAL_SEAL)))
		goto fail;
	r->mem = mmap(NULL, total, PROT_READ | PROT_WRITE,
		      r->fd >= 0 ? MAP_SHARED : MAP_SHARED | MAP_ANONYMOUS,
		      r->fd, 0);
	if (r->mem == MAP_FAILED) {
		r->mem = NULL;
		goto fail;
	}
	r->mem_size = total;
	/* The reservation marks are this process's own business: not in
	 * the shared mapping, where a consumer could change them.  Touched
	 * page by page as the writers go. */
	r->resv_size = ROUND_UP(nbufs * npages * sizeof(intptr_t), 4096);
	r->resv = mmap(NULL, r->resv_size, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (r->resv == MAP_FAILED) {
		r->resv = NULL;
		goto fail;
	}

	r->data = (char *)r->mem + data_off;
	r->ctl = (struct pcpu_ring_ctl *)((char *)r->mem + ctl_off);
	r->pages = (uint64_t *)((char *)r->mem + page_off);
	sh = (struct pcpu_ring_shared *)r->mem;
	r->wake = &sh->wake;
	r->buf_size = p.buf_size;
	r->page_size = p.page_size;
	r->salt = pick_salt();
	r->max_len = p.page_size - PCPU_RING_HDR_SIZE;
	r->buf_shift = log2_of(p.buf_size);
	r->page_shift = log2_of(p.page_size);
	r->pages_shift = r->buf_shift - r->page_shift;
	r->nbufs = nbufs;
	r->flags = p.flags;
	/* Discard: the space the consumer (at 0) leaves.  Overwrite: only
	 * the position limit. */
	for (k = 0; k < nbufs; k++)
		r->ctl[k].limit = p.flags & PCPU_RING_OVERWRITE ?
				  PCPU_RING_POS_LIMIT - p.page_size :
				  p.buf_size;

	/* For a sleeping consumer's barrier (ring.h, Memory order); where
	 * refused, consumers poll while asleep. */
	sh->wake.fenced = !membarrier(MEMBARRIER_CMD_REGISTER_GLOBAL_EXPEDITED);
	sh->version = PCPU_RING_VERSION;
	sh->flags = p.flags;
	sh->nbufs = nbufs;
	sh->buf_size = p.buf_size;
	sh->page_size = p.page_size;
	sh->salt = r->salt;
	sh->ctl_off = ctl_off;
	sh->page_off = page_off;
	sh->data_off = data_off;
	sh->total_size = total;
	/* Release: a reader that sees the magic sees the geometry. */
	__atomic_store_n(&sh->magic, PCPU_RING_MAGIC, __ATOMIC_RELEASE);
	return r;
fail:
	err = errno;
	pcpu_ring_destroy(r);
	errno = err;
	return NULL;
}

int pcpu_ring_destroy(struct pcpu_ring *r)
{
	if (!r) {
		errno = EINVAL;
		return -1;
	}
	if (r->resv)
		munmap(r->resv, r->resv_size);
	if (r->mem)
		munmap(r->mem, r->mem_size);
	if (r->fd >= 0)
		close(r->fd);
	free(r);
	return 0;
}

int pcpu_ring_fd(const struct pcpu_ring *r)
{
	if (!r || r->fd < 0) {
		errno = r ? ENOSYS : EINVAL;
		return -1;
	}
	return r->fd;
}

void *pcpu_ring_mem(const struct pcpu_ring *r)
{
	return r ? r->mem : NULL;
}

size_t pcpu_ring_mem_size(const struct pcpu_ring *r)
{
	return r ? r->mem_size : 0;
}

/* ---- writer slow paths ------------------------------------------------ */

int pcpu__ring_einval(struct pcpu_ring *r)
{
	errno = r ? EMSGSIZE : EINVAL;
	return -1;
}

static int drop(struct pcpu_ring *r, uint32_t b)
{
	__atomic_fetch_add(&r->ctl[b].discarded, 1, __ATOMIC_RELAXED);
	errno = ENOBUFS;
	return -1;
}

/*
 * May buffer w's writers write up to end?  The cached limit first; past
 * it (discard mode), the consumer's published tail again, and the limit
 * it gives stored for the next writers.  Several writers of the CPU may
 * store at once: each value came from a tail the consumer did publish,
 * and tails only grow, so an older one is only more cautious.
 */
static int room(struct pcpu_ring *r, struct pcpu_ring_ctl *w, uint64_t end)
{
	uint64_t cap = PCPU_RING_POS_LIMIT - r->page_size, lim, tail;

	lim = __atomic_load_n(&w->limit, __ATOMIC_RELAXED);
	if ((int64_t)(end - lim) <= 0)
		return 1;
	if (r->flags & PCPU_RING_OVERWRITE)
		return end <= cap;
	/* Acquire: the consumer's copies out of the space before its tail
	 * are done; pairs with its release in publish(). */
	tail = __atomic_load_n(&w->tail, __ATOMIC_ACQUIRE);
	lim = tail < cap - r->buf_size ? tail + r->buf_size : cap;
	__atomic_store_n(&w->limit, lim, __ATOMIC_RELAXED);
	return (int64_t)(end - lim) <= 0;
}

/*
 * Does the page of buffer b with page word seen (its lap + 1) still hold
 * a pending reservation of that lap?  Only if a reservation was made
 * there on that lap (resv); then its headers are walked, each checked
 * against its stamp.  Acquire on each header: a reservation found
 * committed has its payload stores done before ours (pairs with the
 * release of pcpu_ring_commit()).
 */
static int page_busy(struct pcpu_ring *r, uint32_t b, uint64_t pg,
		     uint64_t seen)
{
	uint64_t q, end, w, n;

	if (!seen || (uint64_t)__atomic_load_n(&r->resv[pg],
					       __ATOMIC_RELAXED) != seen)
		return 0;
	/* For TSan: a writer of this CPU may enter the page while we walk
	 * (it preempted us): what we read is then only a hint, and the
	 * sequence we run next fails its compare. */
	PCPU__IGNORE_READS_BEGIN();
	q = ((seen - 1) << r->buf_shift) |
	    ((pg & ((UINT64_C(1) << r->pages_shift) - 1)) << r->page_shift);
	end = q + r->page_size;
	for (n = 0; end - q >= PCPU_RING_HDR_SIZE &&
		    n < r->page_size / PCPU_RING_HDR_SIZE; n++) {
		w = __atomic_load_n((uint64_t *)pcpu__ring_at(r, b, q),
				    __ATOMIC_ACQUIRE);
		switch (classify(r->salt, r->page_size, q, w)) {
		case HDR_RECORD:
			q += rec_size(w);
			continue;
		case HDR_PENDING:
			PCPU__IGNORE_READS_END();
			return 1;
		default:
			break;		/* padding: the page is done */
		}
		break;
	}
	PCPU__IGNORE_READS_END();
	return 0;
}

/*
 * The fast path could not place a record of rec bytes at raw, the wpos
 * of buffer cs->cpu: pad the page, enter it or step over it, or refresh
 * the space.  Each of those is a sequence of its own on cs; then the
 * caller reads wpos again (returns 1), whatever the sequence returned
 * (a RETRY left cs->aborted set for pcpu_cs_next()).  Returns -1 with
 * the record dropped and counted: no room, or *steps pages stepped over
 * by this call already (a lap of them).
 */
static int prepare(struct pcpu_ring *r, struct pcpu_cs *cs, uint64_t raw,
		   uint64_t rec, unsigned int *steps)
{
	uint32_t b = cs->cpu;
	struct pcpu_ring_ctl *w = &r->ctl[b];
	intptr_t *v = (intptr_t *)&w->wpos;
	uint64_t pm = r->page_size - 1, pos = raw & ~(uint64_t)7;
	uint64_t end = (pos | pm) + 1, lap, pg, seen;

	if (raw & pm) {
		if ((pos & pm) + rec <= r->page_size)
			return room(r, w, pos + rec) ? 1 : drop(r, b);
		/* Does not fit: a padding record to the page end first (a
		 * gap below a header's size needs none). */
		if (!room(r, w, end))
			return drop(r, b);
		if (end - pos >= PCPU_RING_HDR_SIZE)
			pcpu_cs_cmpeqv_trystorev_storev_release(cs, v,
				(intptr_t)raw,
				(intptr_t *)pcpu__ring_at(r, b, pos),
				(intptr_t)pcpu__ring_word0(r->salt, pos,
					PCPU_RING_COMMITTED | PCPU_RING_PAD |
					(end - pos)), (intptr_t)end);
		else
			pcpu_cs_cmpeqv_storev(cs, v, (intptr_t)raw,
					      (intptr_t)end);
		return 1;
	}
	/* A page start not entered on this lap (ring.h, Pages). */
	if (!room(r, w, pos + rec))
		return drop(r, b);
	/* For TSan, which does not see the sequences' stores: what we read
	 * here (the walk) happens before the writers that follow us. */
	PCPU__HB_RELEASE(w);
	lap = pos >> r->buf_shift;
	pg = ((uint64_t)b << r->pages_shift) +
	     ((pos & (r->buf_size - 1)) >> r->page_shift);
	/* Acquire: the page word of the lap we walk, from the sequence
	 * that stored it (or ours: the same CPU). */
	seen = __atomic_load_n(&r->pages[pg], __ATOMIC_ACQUIRE);
	if (seen > lap + 1)	/* raw was stale (or the word forged) */
		return ++*steps > (1u << r->pages_shift) ? drop(r, b) : 1;
	if (seen != lap + 1 && page_busy(r, b, pg, seen)) {
		if (++*steps > (1u << r->pages_shift) ||
		    !room(r, w, pos + r->page_size))
			return drop(r, b);
		/* Step over: the page keeps its bytes and its word (stored
		 * again, undoing an entry attempt that aborted after its
		 * try-store). */
		pcpu_cs_cmpeqv_trystorev_storev(cs, v, (intptr_t)raw,
				(intptr_t *)&r->pages[pg], (intptr_t)seen,
				(intptr_t)(pos + r->page_size));
		return 1;
	}
	/* Enter: the page word names the new lap before any record of it
	 * is written there (the overwrite seqlock); release: pairs with the
	 * consumer's acquire of wpos, which then reads the page word. */
	pcpu_cs_cmpeqv_trystorev_storev_release(cs, v, (intptr_t)raw,
			(intptr_t *)&r->pages[pg], (intptr_t)(lap + 1),
			(intptr_t)(raw | 1));
	/* The seqlock's writer side: pages[] before every record store of
	 * the new lap, paired with the consumer's acquire fence between
	 * its copy and its reload of pages[] (take()).  The commit's
	 * release does not give it: the next record's address comes from
	 * our own load of that wpos, and on arm64 a load reading this
	 * CPU's own stlr orders nothing for other observers, so the
	 * record's stores could become visible before pages[] and a
	 * consumer would keep a torn copy.  dmb ish on arm64, only a
	 * compiler barrier on x86 (TSO); once per page, off the fast
	 * path.  Another thread of this CPU that writes there next comes
	 * after the scheduler's or the signal code's lock, which orders
	 * the same way.  Whether or not the sequence committed: cheap. */
	PCPU__FENCE_REL();	/* (a signal fence under TSan, see lock.h) */
	return 1;
}

/*
 * pcpu_ring_write() and pcpu_ring_reserve() after their inline attempt:
 * the whole loop, prepare() whenever the fast path cannot place the
 * record.  The aborts of this loop count towards the spare copy
 * (cs.h: Progress).
 */
int pcpu__ring_write_slow(struct pcpu_ring *r, const void *data,
			  size_t len)
{
	uint64_t rec = PCPU_RING_HDR_SIZE + ROUND_UP(len, 8), raw, pos, h[2];
	struct pcpu_ring_ctl *w;
	unsigned int steps = 0;
	struct pcpu_cs cs;

	for (pcpu_cs_begin(&cs);; pcpu_cs_next(&cs)) {
		w = &r->ctl[cs.cpu];
		raw = __atomic_load_n(&w->wpos, __ATOMIC_RELAXED);
		if (!pcpu__ring_easy(r, w, raw, rec)) {
			if (prepare(r, &cs, raw, rec, &steps) < 0)
				return -1;
			continue;
		}
		pos = raw & ~(uint64_t)7;
		h[0] = pcpu__ring_word0(r->salt, pos, PCPU_RING_COMMITTED | len);
		h[1] = pcpu__ring_clock(r);
		PCPU__HB_ACQUIRE(w);
		if (pcpu_cs_cmpeqv_trymemcpy2_storev_release(&cs,
				(intptr_t *)&w->wpos, (intptr_t)raw,
				pcpu__ring_at(r, cs.cpu, pos), h, sizeof(h),
				data, len, (intptr_t)(pos + rec)) == PCPU_CS_OK)
			break;
	}
	if (r->flags & PCPU_RING_OVERWRITE)
		pcpu__ring_count(r, cs, cs.cpu);
	pcpu__ring_poke(r, cs.cpu, 0);
	return 0;
}

void *pcpu__ring_reserve_slow(struct pcpu_ring *r, size_t len)
{
	uint64_t rec = PCPU_RING_HDR_SIZE + ROUND_UP(len, 8), raw, pos, h[2];
	struct pcpu_ring_ctl *w;
	unsigned int steps = 0;
	struct pcpu_cs cs;
	uint64_t pg;
	char *p;

	for (pcpu_cs_begin(&cs);; pcpu_cs_next(&cs)) {
		w = &r->ctl[cs.cpu];
		raw = __atomic_load_n(&w->wpos, __ATOMIC_RELAXED);
		if (!pcpu__ring_easy(r, w, raw, rec)) {
			if (prepare(r, &cs, raw, rec, &steps) < 0)
				return NULL;
			continue;
		}
		pos = raw & ~(uint64_t)7;
		h[0] = pcpu__ring_word0(r->salt, pos, len);
		h[1] = pcpu__ring_clock(r);
		p = pcpu__ring_at(r, cs.cpu, pos);
		pg = ((uint64_t)cs.cpu << r->pages_shift) +
		     ((pos & (r->buf_size - 1)) >> r->page_shift);
		PCPU__HB_ACQUIRE(w);
		if (pcpu_cs_cmpeqv_trystorev_trymemcpy_storev_release(&cs,
				(intptr_t *)&w->wpos, (intptr_t)raw,
				&r->resv[pg],
				(intptr_t)((pos >> r->buf_shift) + 1), p, h,
				sizeof(h), (intptr_t)(pos + rec)) == PCPU_CS_OK)
			return p + PCPU_RING_HDR_SIZE;
	}
}

/*
 * A consumer may be asleep (waiters set): wake it, unless it asked for
 * min_bytes and buffer b holds less unread (any: a commit, which always
 * wakes).  One writer wins the exchange and makes the system call; the
 * others see waiters clear.  errno is kept: the writer's call succeeded.
 */
void pcpu__ring_wake(struct pcpu_ring *r, unsigned int b, int any)
{
	struct pcpu_ring_wake *wk = r->wake;
	uint64_t min = __atomic_load_n(&wk->min_bytes, __ATOMIC_RELAXED);
	int saved = errno;

	if (!any && min > 1 &&
	    (__atomic_load_n(&r->ctl[b].wpos, __ATOMIC_RELAXED) &
	     ~(uint64_t)7) - __atomic_load_n(&r->ctl[b].tail,
					     __ATOMIC_RELAXED) < min)
		return;
	if (!__atomic_exchange_n(&wk->waiters, 0, __ATOMIC_ACQ_REL))
		return;
	/* Release: pairs with the consumer's acquire of seq before its
	 * last look (a wake it missed makes its futex wait return). */
	__atomic_fetch_add(&wk->seq, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &wk->seq, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
	errno = saved;
}

/* ---- consumer ---------------------------------------------------------
 *
 * Everything below reads memory that a writer process may fill with
 * anything (ring.h, Consumer).  Its words are interpreted in these
 * functions only:
 *
 *	check_geometry()	the shared header, once, at open
 *	cursor_start()		the previous reader's tail, at open
 *	read_wpos()		a buffer's write position, at every use
 *	page_lap()		a page word, at every use
 *	classify()		a record header, at every use
 *
 * Every position the reader derives stays 8-aligned and below
 * PCPU_RING_POS_LIMIT, every offset is masked into its buffer, and a
 * length is used only after classify() found that it fits its page.
 */

/* The fuzzer builds with 0, to reach the skip paths at once. */
#ifndef PCPU__RING_STUCK_NS
#define PCPU__RING_STUCK_NS	PCPU_RING_STUCK_NS
#endif

struct pcpu__ring_cursor {
	uint64_t tail;		/* next position to look at */
	uint64_t pub;		/* the tail last published */
	uint64_t wpos;		/* the writers' position, as last read */
	uint64_t consumed;	/* records returned, previous readers' too */
	uint64_t corrupt;	/* regions skipped at an inconsistent header */
	uint64_t abandoned;	/* skipped after PCPU__RING_STUCK_NS */
	uint64_t stuck_pos;	/* waited at */
	uint64_t stuck_since;	/* CLOCK_MONOTONIC ns | 1 when first seen
				 * pending; 0: not waiting */
	uint64_t w0, ts;	/* the record at tail, when have */
	int have;
};

static uint64_t page_end(const struct pcpu_ring_reader *rd, uint64_t t)
{
	return (t | (rd->page_size - 1)) + 1;
}

static uint64_t *hdr_at(const struct pcpu_ring_reader *rd, unsigned int c,
			uint64_t t)
{
	return (uint64_t *)(rd->data + (uint64_t)c * rd->buf_size +
			    (t & (rd->buf_size - 1)));
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Buffer c's write position.  Acquire: pairs with the release commit of
 * the writers' sequences, so every header and payload below it is
 * visible.  A value out of range is not believed (the last one stays).
 */
static uint64_t read_wpos(const struct pcpu_ring_reader *rd, unsigned int c,
			  uint64_t old)
{
	uint64_t w = __atomic_load_n(&rd->ctl[c].wpos, __ATOMIC_ACQUIRE) &
		     ~(uint64_t)7;

	return w < PCPU_RING_POS_LIMIT ? w : old;
}

/*
 * The word of the page holding t: the lap + 1 its bytes belong to.
 * Acquire: pairs with the entering sequence (ring.h: it names the new
 * lap before writing it), and orders the loads after it.
 */
static uint64_t page_lap(const struct pcpu_ring_reader *rd, unsigned int c,
			 uint64_t t)
{
	uint64_t pg = ((uint64_t)c << (rd->buf_shift - rd->page_shift)) +
		      ((t & (rd->buf_size - 1)) >> rd->page_shift);

	return __atomic_load_n(&rd->pages[pg], __ATOMIC_ACQUIRE);
}

/* Do t's page's bytes belong to t's lap (not overwritten, not stepped
 * over)? */
static int page_holds(const struct pcpu_ring_reader *rd, unsigned int c,
		      uint64_t t)
{
	return page_lap(rd, c, t) == (t >> rd->buf_shift) + 1;
}

/* The tail for the writers' space check, and consumed with it. */
static void publish(struct pcpu_ring_reader *rd, unsigned int c)
{
	struct pcpu__ring_cursor *k = &rd->cur[c];

	k->pub = k->tail;
	__atomic_store_n(&rd->ctl[c].consumed, k->consumed, __ATOMIC_RELAXED);
	/* For TSan: our copies happen before the next lap's writers
	 * (pairs with their HB_ACQUIRE of the control block). */
	PCPU__HB_RELEASE(&rd->ctl[c]);
	/* Release: our copies out of the space before t are done before a
	 * writer reuses it; pairs with the acquire in room(). */
	__atomic_store_n(&rd->ctl[c].tail, k->tail, __ATOMIC_RELEASE);
}

/* Move buffer c's tail to t; publish once per page crossed. */
static void move_tail(struct pcpu_ring_reader *rd, unsigned int c,
		      uint64_t t)
{
	struct pcpu__ring_cursor *k = &rd->cur[c];

	k->tail = t;
	k->have = 0;
	if ((t ^ k->pub) >> rd->page_shift)
		publish(rd, c);
}

/*
 * Buffer c's reader is at t, below wpos, where the record w is not
 * committed (a reservation in progress, abandoned, or a damaged flag).
 * Returns the position after it once t has looked so for
 * PCPU__RING_STUCK_NS, 0 until then.
 */
static uint64_t stuck(struct pcpu_ring_reader *rd, unsigned int c,
		      uint64_t t, uint64_t w)
{
	struct pcpu__ring_cursor *k = &rd->cur[c];
	uint64_t now = mono_ns() | 1;

	if (!k->stuck_since || k->stuck_pos != t) {
		k->stuck_pos = t;
		k->stuck_since = now;
		return 0;
	}
	if (now - k->stuck_since < PCPU__RING_STUCK_NS)
		return 0;
	k->stuck_since = 0;
	return t + rec_size(w);
}

/*
 * Position the tail of buffer c on its next committed record, skipping
 * padding, pages stepped over, overwritten pages (overwrite mode) and
 * damage (ring.h).  Returns 1 with the header in k->w0 / k->ts (kept
 * until the tail moves), 0 if there is none now or the call's
 * PCPU__RING_STEPS are used up (the progress is kept; published when 0).
 * Every step moves forward or ends the call.
 */
static __attribute__((noinline)) int peek_slow(struct pcpu_ring_reader *rd,
						unsigned int c)
{
	struct pcpu__ring_cursor *k = &rd->cur[c];
	int ow = rd->flags & PCPU_RING_OVERWRITE;
	uint64_t t = k->tail, w, to, pm = rd->page_size - 1;
	unsigned int steps;
	enum hdr_kind kind;

	if (k->have)
		return 1;
	for (steps = 0; steps < PCPU__RING_STEPS; steps++) {
		if (t >= k->wpos) {
			k->wpos = read_wpos(rd, c, k->wpos);
			if (t >= k->wpos)
				break;		/* all read */
		}
		if (k->wpos - t > rd->buf_size) {
			/* A lap behind: overwritten (overwrite mode), or a
			 * writer that ignored our tail (damage). */
			if (!ow)
				k->corrupt++;
			t = ROUND_UP(k->wpos - rd->buf_size, rd->page_size);
			continue;
		}
		if (rd->page_size - (t & pm) < PCPU_RING_HDR_SIZE ||
		    (ow && !page_holds(rd, c, t))) {
			t = page_end(rd, t);
			continue;
		}
		/* Acquire: pairs with the writer's release of the record
		 * (wpos's, or commit's compare-and-swap).  Overwrite mode:
		 * a newer lap may be writing here (the page word says so,
		 * below); for TSan, a seqlock read. */
		if (ow)
			PCPU__IGNORE_READS_BEGIN();
		w = __atomic_load_n(hdr_at(rd, c, t), __ATOMIC_ACQUIRE);
		if (ow)
			PCPU__IGNORE_READS_END();
		kind = classify(rd->salt, rd->page_size, t, w);
		if ((kind == HDR_RECORD || kind == HDR_PENDING) &&
		    t + rec_size(w) > k->wpos)
			kind = HDR_BAD;	/* passes what was written */
		if (kind == HDR_RECORD) {
			k->w0 = w;
			if (ow)
				PCPU__IGNORE_READS_BEGIN();
			k->ts = __atomic_load_n(hdr_at(rd, c, t) + 1,
						__ATOMIC_RELAXED);
			if (ow)
				PCPU__IGNORE_READS_END();
			k->tail = t;
			k->have = 1;
			if ((t ^ k->pub) >> rd->page_shift)
				publish(rd, c);
			return 1;
		}
		if (kind == HDR_PAD) {
			t = page_end(rd, t);
			continue;
		}
		/* Overwrite mode: a newer lap may have written here since
		 * we looked at the page word; it names itself there first. */
		if (ow && !page_holds(rd, c, t)) {
			t = page_end(rd, t);
			continue;
		}
		if (kind == HDR_PENDING) {
			to = stuck(rd, c, t, w);
			if (!to)
				break;
			k->abandoned++;
			t = to;
			continue;
		}
		/* No stamp at a page start whose word is an older lap: the
		 * writers stepped over it on this lap (nothing lost). */
		if (kind == HDR_NONE && !(t & pm) &&
		    page_lap(rd, c, t) < (t >> rd->buf_shift) + 1) {
			t = page_end(rd, t);
			continue;
		}
		k->corrupt++;
		t = page_end(rd, t);
	}
	k->tail = t;
	if (t != k->pub)
		publish(rd, c);
	return 0;
}

/*
 * peek_slow() with its common cases inline, which is what the consumer
 * spends its time in: the record already found at the tail; the tail on
 * a committed record below wpos (discard mode; overwrite mode must check
 * its page first); a buffer with nothing new (one load of its wpos).
 */
static inline __attribute__((always_inline)) int
peek(struct pcpu_ring_reader *rd, unsigned int c)
{
	struct pcpu__ring_cursor *k = &rd->cur[c];
	uint64_t t, w, pm = rd->page_size - 1;

	if (k->have)
		return 1;
	t = k->tail;
	if (t >= k->wpos) {
		k->wpos = read_wpos(rd, c, k->wpos);
		if (t >= k->wpos && t == k->pub)
			return 0;
	} else if (!(rd->flags & PCPU_RING_OVERWRITE) &&
		   rd->page_size - (t & pm) >= PCPU_RING_HDR_SIZE) {
		/* Acquire: pairs with the writer's release of the record. */
		w = __atomic_load_n(hdr_at(rd, c, t), __ATOMIC_ACQUIRE);
		if (!((w ^ pcpu__ring_stamp(rd->salt, t)) >>
		      PCPU_RING_STAMP_SHIFT) &&
		    (w & (PCPU_RING_COMMITTED | PCPU_RING_PAD)) ==
		    PCPU_RING_COMMITTED &&
		    (t & pm) + rec_size(w) <= rd->page_size &&
		    t + rec_size(w) <= k->wpos) {
			k->w0 = w;
			k->ts = __atomic_load_n(hdr_at(rd, c, t) + 1,
						__ATOMIC_RELAXED);
			k->have = 1;
			return 1;
		}
	}
	return peek_slow(rd, c);
}

/* The payload copy: whole words, then the tail bytes (records are small:
 * no call into the library's memcpy for 16 bytes). */
static inline void copy_out(void *dst, const void *src, uint64_t len)
{
	char *d = dst;
	const char *s = src;

	if (len > 256) {
		memcpy(d, s, len);
		return;
	}
	for (; len >= 8; len -= 8, d += 8, s += 8)
		__builtin_memcpy(d, s, 8);
	for (; len; len--)
		*d++ = *s++;
}

/* The shared header: a ring of this version whose geometry fits size. */
static int check_geometry(const struct pcpu_ring_shared *sh, size_t size)
{
	uint64_t ctl_end, data_len, pages_len;

	if (sh->magic != PCPU_RING_MAGIC || sh->version != PCPU_RING_VERSION ||
	    (sh->flags & ~(PCPU_RING_OVERWRITE | PCPU_RING_NO_CLOCK)) ||
	    !sh->nbufs || sh->nbufs > PCPU_RING_MAX_BUFS ||
	    !pow2(sh->buf_size) || !pow2(sh->page_size) ||
	    sh->page_size < PCPU_RING_MIN_PAGE ||
	    sh->page_size > sh->buf_size ||
	    sh->page_size > PCPU_RING_MAX_PAGE ||
	    sh->buf_size > PCPU_RING_MAX_BUF || sh->total_size > size)
		return -1;
	data_len = (uint64_t)sh->nbufs * sh->buf_size;	/* <= 2^50 */
	ctl_end = (uint64_t)sh->nbufs * sizeof(struct pcpu_ring_ctl);
	pages_len = (uint64_t)sh->nbufs * (sh->buf_size / sh->page_size) *
		    sizeof(uint64_t);			/* <= 2^47 */
	if ((sh->ctl_off & 63) || (sh->data_off & 7) || (sh->page_off & 7) ||
	    sh->ctl_off < sizeof(*sh) || sh->data_off < sizeof(*sh) ||
	    sh->page_off < sizeof(*sh) ||
	    sh->ctl_off > size || ctl_end > size - sh->ctl_off ||
	    sh->page_off > size || pages_len > size - sh->page_off ||
	    sh->data_off > size || data_len > size - sh->data_off)
		return -1;
	ctl_end += sh->ctl_off;
	/* The control blocks are the only words the reader writes: they
	 * must not overlap the records it reads. */
	if (!(ctl_end <= sh->data_off ||
	      sh->data_off + data_len <= sh->ctl_off))
		return -1;
	return 0;
}

/*
 * Where buffer c's reading starts: the tail the previous reader left if
 * it is a position (8-aligned, below PCPU_RING_POS_LIMIT), else the next
 * page start after it (0 for one out of range), counted in corrupt as a
 * damaged header would be.  Published at once, for the writers' space
 * check.
 */
static void cursor_start(struct pcpu_ring_reader *rd, unsigned int c)
{
	struct pcpu__ring_cursor *k = &rd->cur[c];
	uint64_t t = __atomic_load_n(&rd->ctl[c].tail, __ATOMIC_RELAXED);

	k->consumed = __atomic_load_n(&rd->ctl[c].consumed, __ATOMIC_RELAXED);
	k->tail = k->pub = t;
	if (t < PCPU_RING_POS_LIMIT && !(t & 7))
		return;
	k->corrupt++;
	k->tail = t < PCPU_RING_POS_LIMIT ? page_end(rd, t) : 0;
	publish(rd, c);
}

int pcpu_ring_reader_open(struct pcpu_ring_reader *rd, void *mem,
			  size_t size)
{
	struct pcpu_ring_shared sh;
	unsigned int c;

	if (!rd) {
		errno = EINVAL;
		return -1;
	}
	memset(rd, 0, sizeof(*rd));
	if (!mem || size < sizeof(sh) || ((uintptr_t)mem & 63)) {
		errno = EINVAL;
		return -1;
	}
	/* Acquire: pairs with the release store of the magic at creation.
	 * Then one snapshot of the geometry, never re-read, so a writer
	 * that changes it later cannot move our bounds. */
	if (__atomic_load_n((uint64_t *)mem, __ATOMIC_ACQUIRE) !=
	    PCPU_RING_MAGIC)
		goto bad;
	memcpy(&sh, mem, sizeof(sh));
	if (check_geometry(&sh, size))
		goto bad;
	rd->cur = calloc(sh.nbufs, sizeof(*rd->cur));
	rd->scratch = malloc(sh.page_size);
	if (!rd->cur || !rd->scratch) {
		free(rd->cur);
		free(rd->scratch);
		rd->cur = NULL;
		rd->scratch = NULL;
		errno = ENOMEM;
		return -1;
	}
	rd->mem = mem;
	rd->size = size;
	rd->data = (char *)mem + sh.data_off;
	rd->ctl = (struct pcpu_ring_ctl *)((char *)mem + sh.ctl_off);
	rd->pages = (const uint64_t *)((char *)mem + sh.page_off);
	rd->wake = &((struct pcpu_ring_shared *)mem)->wake;
	rd->buf_size = sh.buf_size;
	rd->page_size = sh.page_size;
	rd->salt = sh.salt;
	rd->nbufs = sh.nbufs;
	rd->flags = sh.flags;
	rd->buf_shift = log2_of(sh.buf_size);
	rd->page_shift = log2_of(sh.page_size);
	rd->fenced = !!sh.wake.fenced;
	for (c = 0; c < sh.nbufs; c++)
		cursor_start(rd, c);
	return 0;
bad:
	errno = EBADMSG;
	return -1;
}

int pcpu_ring_reader_open_fd(struct pcpu_ring_reader *rd, int fd)
{
	struct pcpu_ring_shared sh;
	struct statfs fs;
	struct stat st;
	size_t size;
	void *m;
	int seals, err;

	if (!rd) {
		errno = EINVAL;
		return -1;
	}
	memset(rd, 0, sizeof(*rd));
	if (fstat(fd, &st))
		return -1;
	if (!S_ISREG(st.st_mode)) {
		errno = EINVAL;
		return -1;
	}
	/* Seals first: once both are set the size cannot change, so the
	 * fstat() after this gives the size for good. */
	seals = fcntl(fd, F_GET_SEALS);
	if (seals < 0 || (seals & (F_SEAL_SHRINK | F_SEAL_GROW)) !=
			 (F_SEAL_SHRINK | F_SEAL_GROW)) {
		errno = EPERM;
		return -1;
	}
	/* The seals hold the size, not the pages, on anything but shmem:
	 * hugetlbfs (MFD_HUGETLB) takes them yet still lets the writer
	 * punch holes, and a reader refaulting a page the exhausted huge
	 * page pool cannot give back dies of SIGBUS.  memfd_create() files
	 * without MFD_HUGETLB are shmem and report TMPFS_MAGIC. */
	if (fstatfs(fd, &fs))
		return -1;
	if (fs.f_type != TMPFS_MAGIC) {
		errno = EINVAL;
		return -1;
	}
	if (fstat(fd, &st))
		return -1;
	/* Map the ring's size, not a file a peer made huge: a hint only,
	 * the header is checked again in the mapping. */
	if (st.st_size < (off_t)sizeof(sh) ||
	    pread(fd, &sh, sizeof(sh), 0) != (ssize_t)sizeof(sh) ||
	    sh.total_size < sizeof(sh) ||
	    sh.total_size > (uint64_t)st.st_size) {
		errno = EBADMSG;
		return -1;
	}
	size = (size_t)sh.total_size;
	m = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (m == MAP_FAILED)
		return -1;
	if (pcpu_ring_reader_open(rd, m, size)) {
		err = errno;
		munmap(m, size);
		errno = err;
		return -1;
	}
	rd->map = m;
	rd->map_size = size;
	return 0;
}

void pcpu_ring_reader_close(struct pcpu_ring_reader *rd)
{
	if (!rd)
		return;
	if (rd->cur)
		for (unsigned int c = 0; c < rd->nbufs; c++)
			if (rd->cur[c].tail != rd->cur[c].pub)
				publish(rd, c);
	free(rd->cur);
	free(rd->scratch);
	if (rd->map)
		munmap(rd->map, rd->map_size);
	rd->cur = NULL;
	rd->scratch = NULL;
	rd->map = NULL;
	rd->map_size = 0;
	rd->nbufs = 0;
}

unsigned int pcpu_ring_reader_nbufs(const struct pcpu_ring_reader *rd)
{
	return rd ? rd->nbufs : 0;
}

/* The record peek() found at buffer cpu's tail, into data. */
static inline int take(struct pcpu_ring_reader *rd, unsigned int cpu,
		struct pcpu_ring_entry *e, void *data, size_t cap)
{
	struct pcpu__ring_cursor *k = &rd->cur[cpu];
	uint64_t len, t;
	unsigned int tries;
	const char *p;

	for (tries = 0; tries < PCPU__RING_TRIES; tries++) {
		if (peek(rd, cpu) <= 0)
			return 0;
		t = k->tail;
		len = k->w0 & PCPU_RING_LEN_MASK;	/* fits: classify() */
		e->stamp = k->ts;
		e->cpu = cpu;
		e->len = (uint32_t)len;
		if (len > cap) {
			/* Overwrite mode: a header of a lap since gone? */
			if ((rd->flags & PCPU_RING_OVERWRITE) &&
			    !page_holds(rd, cpu, t)) {
				move_tail(rd, cpu, page_end(rd, t));
				continue;
			}
			errno = EMSGSIZE;
			return -1;
		}
		p = (const char *)hdr_at(rd, cpu, t) + PCPU_RING_HDR_SIZE;
		if (!(rd->flags & PCPU_RING_OVERWRITE)) {
			copy_out(data, p, len);
			goto got;
		}
		/* Seqlock reader: copy, then check that the page still
		 * holds this lap (a writer names the new lap there before
		 * writing into it). */
		PCPU__IGNORE_READS_BEGIN();
		if (len)
			memcpy(data, p, len);
		PCPU__IGNORE_READS_END();
		/* Acquire: the copy (and the header, the stamp) before the
		 * page word; pairs with the entering sequence's order. */
		PCPU__FENCE_ACQ();
		if (page_holds(rd, cpu, t))
			goto got;
		move_tail(rd, cpu, page_end(rd, t));
	}
	return 0;	/* writers overran every copy: none now */
got:
	k->consumed++;
	move_tail(rd, cpu, t + PCPU_RING_HDR_SIZE + ROUND_UP(len, 8));
	return 1;
}

int pcpu_ring_read(struct pcpu_ring_reader *rd, unsigned int cpu,
		   struct pcpu_ring_entry *e, void *data, size_t cap)
{
	if (!rd || !rd->cur || cpu >= rd->nbufs || !e || (cap && !data)) {
		errno = EINVAL;
		return -1;
	}
	return take(rd, cpu, e, data, cap);
}

/*
 * The buffer whose next record is oldest (ties in turn from rd->next),
 * or -1 when none has one now; *bound: the oldest stamp among the other
 * buffers' next records (UINT64_MAX: none).
 */
static int oldest(struct pcpu_ring_reader *rd, uint64_t *bound)
{
	uint64_t best_ts = 0, second = UINT64_MAX, ts;
	unsigned int i, c;
	int best = -1;

	for (i = 0, c = rd->next; i < rd->nbufs; i++) {
		if (peek(rd, c) == 1) {
			ts = rd->cur[c].ts;
			if (best < 0 || ts < best_ts) {
				if (best >= 0)
					second = best_ts;
				best = (int)c;
				best_ts = ts;
			} else if (ts < second) {
				second = ts;
			}
		}
		c = c + 1 == rd->nbufs ? 0 : c + 1;
	}
	if (best >= 0)
		rd->next = (unsigned int)best + 1 == rd->nbufs ? 0 :
			   (unsigned int)best + 1;
	*bound = second;
	return best;
}

int pcpu_ring_read_next(struct pcpu_ring_reader *rd,
			struct pcpu_ring_entry *e, void *data, size_t cap)
{
	int c;

	if (!rd || !rd->cur || !e || (cap && !data)) {
		errno = EINVAL;
		return -1;
	}
	uint64_t bound;

	c = oldest(rd, &bound);
	return c < 0 ? 0 : take(rd, (unsigned int)c, e, data, cap);
}

int pcpu_ring_read_batch(struct pcpu_ring_reader *rd, pcpu_ring_cb cb,
			 void *arg, unsigned int max)
{
	struct pcpu_ring_entry e;
	unsigned int n = 0, misses = 0;
	int c;

	if (!rd || !rd->cur || !cb) {
		errno = EINVAL;
		return -1;
	}
	if (max > INT_MAX)
		max = INT_MAX;
	/*
	 * Runs: after a pick, the same buffer goes on while its next record
	 * is older than every other buffer's (their heads as last found),
	 * so the merge costs one scan per run, not per record.  Bounded:
	 * each pick is bounded work, and a pick that yields no record
	 * (overrun while copying) counts against the tries.
	 */
	while (n < max && misses < PCPU__RING_TRIES) {
		uint64_t bound;

		c = oldest(rd, &bound);
		if (c < 0)
			break;
		do {
			if (take(rd, (unsigned int)c, &e, rd->scratch,
				 rd->page_size) != 1) {
				misses++;
				break;
			}
			n++;
			if (cb(arg, &e, rd->scratch))
				return (int)n;
		} while (n < max && peek(rd, (unsigned int)c) == 1 &&
			 rd->cur[c].ts < bound);
	}
	return (int)n;
}

/*
 * Is a record available in some buffer?  *until: the earliest time a
 * buffer waiting at an uncommitted record gives it up (0: none waits).
 */
static int ready(struct pcpu_ring_reader *rd, uint64_t *until)
{
	unsigned int c;

	*until = 0;
	for (c = 0; c < rd->nbufs; c++) {
		struct pcpu__ring_cursor *k = &rd->cur[c];

		if (peek(rd, c) == 1)
			return 1;
		if (k->stuck_since && k->stuck_pos == k->tail) {
			uint64_t u = k->stuck_since + PCPU__RING_STUCK_NS;

			if (!*until || u < *until)
				*until = u;
		}
	}
	return 0;
}

static long futex_wait(uint32_t *w, uint32_t val, uint64_t ns)
{
	struct timespec ts = { (time_t)(ns / 1000000000u),
			       (long)(ns % 1000000000u) };

	/* Not FUTEX_PRIVATE_FLAG: the word is in a shared mapping, and the
	 * writers may be another process. */
	return syscall(SYS_futex, w, FUTEX_WAIT, val,
		       ns == UINT64_MAX ? NULL : &ts, NULL, 0);
}

int pcpu_ring_wait(struct pcpu_ring_reader *rd, size_t min_bytes,
		   int64_t timeout_ns)
{
	uint64_t start, now, until, slice;
	struct pcpu_ring_wake *wk;
	uint32_t seq;
	int fenced, err;
	long r;

	if (!rd || !rd->cur) {
		errno = EINVAL;
		return -1;
	}
	wk = rd->wake;
	start = mono_ns();
	for (;;) {
		if (ready(rd, &until))
			return 1;
		now = mono_ns();
		if (timeout_ns >= 0 && now - start >= (uint64_t)timeout_ns)
			return 0;
		/* Acquire: pairs with the waking writer's release of seq. */
		seq = __atomic_load_n(&wk->seq, __ATOMIC_ACQUIRE);
		__atomic_store_n(&wk->min_bytes, min_bytes, __ATOMIC_RELAXED);
		__atomic_store_n(&wk->waiters, 1, __ATOMIC_SEQ_CST);
		/* The writers load waiters after their commit without a
		 * fence: this barrier on their CPUs is the pair (ring.h). */
		fenced = rd->fenced &&
			 !membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED);
		if (ready(rd, &until)) {
			__atomic_store_n(&wk->waiters, 0, __ATOMIC_RELAXED);
			return 1;
		}
		now = mono_ns();
		slice = timeout_ns < 0 ? UINT64_MAX :
			start + (uint64_t)timeout_ns > now ?
			start + (uint64_t)timeout_ns - now : 0;
		if (!fenced && slice > PCPU__RING_POLL_NS)
			slice = PCPU__RING_POLL_NS;
		/* A buffer waiting at an uncommitted record gives it up at
		 * until: be back by then. */
		if (until && until <= now)
			slice = 0;
		else if (until && until - now < slice)
			slice = until - now;
		r = slice ? futex_wait(&wk->seq, seq, slice) : 0;
		err = errno;
		__atomic_store_n(&wk->waiters, 0, __ATOMIC_RELAXED);
		if (r && err == EINTR) {
			errno = EINTR;
			return -1;
		}
	}
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a + b < a ? UINT64_MAX : a + b;
}

int pcpu_ring_reader_stats(struct pcpu_ring_reader *rd, unsigned int cpu,
			   struct pcpu_ring_stats *st)
{
	const struct pcpu__ring_cursor *k;

	if (!rd || !rd->cur || cpu >= rd->nbufs || !st) {
		errno = EINVAL;
		return -1;
	}
	k = &rd->cur[cpu];
	memset(st, 0, sizeof(*st));
	st->consumed = k->consumed;
	st->corrupt = k->corrupt;
	st->abandoned = k->abandoned;
	/* The writers' counters are whatever shared memory holds: never
	 * let them make a difference negative or a sum wrap. */
	st->discarded = __atomic_load_n(&rd->ctl[cpu].discarded,
					__ATOMIC_RELAXED);
	if (rd->flags & PCPU_RING_OVERWRITE) {
		st->written = sat_add(__atomic_load_n(&rd->ctl[cpu].written,
						      __ATOMIC_RELAXED),
				      __atomic_load_n(&rd->ctl[cpu].written_remote,
						      __ATOMIC_RELAXED));
		st->overwritten = st->written > st->consumed ?
				  st->written - st->consumed : 0;
		st->lost = sat_add(st->discarded, st->overwritten);
	} else {
		st->lost = sat_add(sat_add(st->discarded, st->corrupt),
				   st->abandoned);
	}
	return 0;
}
