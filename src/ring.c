// SPDX-License-Identifier: MIT
/*
 * Per-CPU ring buffers: creation, writer slow paths and the consumer.
 * The format and the writer fast path are in percpu/ring.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/stat.h>
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

struct pcpu_ring *pcpu_ring_create(const struct pcpu_ring_params *params)
{
	struct pcpu_ring_params p = { 0, 0, 0 };
	struct pcpu_ring_shared *sh;
	struct pcpu_ring *r;
	uint64_t npages, ctl_off, commit_off, data_off, total;
	unsigned int nbufs, cbits = 1, k;
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
	while ((1u << cbits) < nbufs)
		cbits++;
	npages = p.buf_size / p.page_size;
	ctl_off = SHARED_HDR_SPACE;
	commit_off = ctl_off + (uint64_t)nbufs * sizeof(struct pcpu_ring_ctl);
	data_off = ROUND_UP(commit_off + nbufs * npages * sizeof(uint64_t),
			    4096);
	total = data_off + (uint64_t)nbufs * p.buf_size;

	r = calloc(1, sizeof(*r));
	if (!r)
		return NULL;
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
	r->resv = PCPU_ALLOC(uint64_t);
	if (!r->resv)
		goto fail;

	r->data = (char *)r->mem + data_off;
	r->ctl = (struct pcpu_ring_ctl *)((char *)r->mem + ctl_off);
	r->commits = (uint64_t *)((char *)r->mem + commit_off);
	r->buf_size = p.buf_size;
	r->page_size = p.page_size;
	r->salt = pick_salt();
	r->pos_bits = 64 - cbits;
	r->pos_mask = (UINT64_C(1) << r->pos_bits) - 1;
	r->max_len = p.page_size - PCPU_RING_HDR_SIZE;
	r->buf_shift = log2_of(p.buf_size);
	r->page_shift = log2_of(p.page_size);
	r->nbufs = nbufs;
	r->flags = p.flags;
	/* Each copy's reservation word carries its own index (ring.h). */
	for (k = 0; k < nbufs; k++)
		__atomic_store_n(pcpu_ptr(r->resv, k),
				 (uint64_t)k << r->pos_bits, __ATOMIC_RELAXED);

	sh = (struct pcpu_ring_shared *)r->mem;
	sh->version = PCPU_RING_VERSION;
	sh->flags = p.flags;
	sh->nbufs = nbufs;
	sh->buf_size = p.buf_size;
	sh->page_size = p.page_size;
	sh->salt = r->salt;
	sh->ctl_off = ctl_off;
	sh->commit_off = commit_off;
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
		pcpu_free(r->resv);
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

/* ---- writer slow paths ----------------------------------------------- */

void *pcpu__ring_drop(struct pcpu_ring *r, uint64_t buf)
{
	if (buf < r->nbufs)
		__atomic_fetch_add(&r->ctl[buf].discarded, 1,
				   __ATOMIC_RELAXED);
	errno = ENOBUFS;
	return NULL;
}

static uint64_t *page_commit(struct pcpu_ring *r, uint64_t buf,
			     uint64_t pos)
{
	uint64_t pg = (pos & (r->buf_size - 1)) >> r->page_shift;

	return &r->commits[(buf << (r->buf_shift - r->page_shift)) + pg];
}

/*
 * Overwrite mode, a writer about to enter the page at pos: the page's
 * previous laps must be fully committed (page_size bytes per lap), or a
 * writer still in it would see its record overwritten under it.
 */
int pcpu__ring_page_ready(struct pcpu_ring *r, uint64_t buf, uint64_t pos)
{
	uint64_t lap = pos >> r->buf_shift;

	/* Acquire: pairs with the commits of the previous lap. */
	return __atomic_load_n(page_commit(r, buf, pos), __ATOMIC_ACQUIRE) ==
	       lap * r->page_size;
}

/*
 * Overwrite mode: publish the end of our reservation before writing into
 * the space (seqlock writer).  The consumer copies a record, then reads
 * head; if our data was in its copy, it sees our head and drops the copy.
 */
void pcpu__ring_publish(struct pcpu_ring *r, uint64_t buf, uint64_t begin,
			uint64_t end)
{
	uint64_t *hp = &r->ctl[buf].head;
	uint64_t cur = __atomic_load_n(hp, __ATOMIC_ACQUIRE);

	while (cur < end &&
	       !__atomic_compare_exchange_n(hp, &cur, end, 0, __ATOMIC_ACQ_REL,
					    __ATOMIC_ACQUIRE))
		;
	/* Release: head before the data stores that follow; pairs with
	 * the consumer's acquire fence between its copy and its head load. */
	PCPU__FENCE_REL();
	/* For TSan: the previous lap's writers of this page (they released
	 * on its commit counter) happen before our writes. */
	PCPU__HB_ACQUIRE(page_commit(r, buf, begin));
}

void pcpu__ring_commit_bytes(struct pcpu_ring *r, uint64_t buf,
			     uint64_t pos, uint64_t bytes, int record)
{
	uint64_t *pc = page_commit(r, buf, pos);

	PCPU__HB_RELEASE(pc);
	/* After the release store of word0 (commit) or of the padding:
	 * once the page's count is complete, the next lap may enter. */
	__atomic_fetch_add(pc, bytes, __ATOMIC_RELEASE);
	if (record)
		__atomic_fetch_add(&r->ctl[buf].written, 1, __ATOMIC_RELAXED);
}

/*
 * Overwrite-mode commit of the header at offset o of buffer buf, w being
 * what it must hold (pcpu_ring_commit()): its length must fit the page,
 * since it goes into the page's commit count.
 */
int pcpu__ring_commit_counted(struct pcpu_ring *r, uint64_t buf, uint64_t o,
			      uint64_t w)
{
	uint64_t *h = (uint64_t *)(r->data + (buf << r->buf_shift) + o);
	uint64_t bytes = PCPU_RING_HDR_SIZE +
			 ROUND_UP(w & PCPU_RING_LEN_MASK, 8);

	if ((o & (r->page_size - 1)) + bytes > r->page_size)
		goto bad;
	PCPU__HB_RELEASE(&r->ctl[buf]);
	/* Release: the payload before the flag; pairs with the consumer's
	 * acquire load of word0. */
	if (!__atomic_compare_exchange_n(&h[0], &w, w | PCPU_RING_COMMITTED,
					 0, __ATOMIC_RELEASE, __ATOMIC_RELAXED))
		goto bad;
	pcpu__ring_commit_bytes(r, buf, o, bytes, 1);
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* ---- consumer ---------------------------------------------------------
 *
 * Everything below reads memory that a writer process may fill with
 * anything (ring.h, Consumer).  Its words are interpreted in these
 * functions only:
 *
 *	check_geometry()	the shared header, once, at open
 *	cursor_start()		the previous reader's tail, at open
 *	shared_head()		the overwrite head, at every use
 *	classify()		a record header, at every use
 *
 * Every position the reader derives stays 8-aligned, every offset is
 * masked into its buffer, and a length is used only after classify()
 * found that it fits its page.  A writer redesign changes what these
 * functions accept, not the code that walks the buffers.
 */

/* The fuzzer builds with 0, to reach the skip paths at once. */
#ifndef PCPU__RING_STUCK_NS
#define PCPU__RING_STUCK_NS	PCPU_RING_STUCK_NS
#endif

struct pcpu__ring_cursor {
	uint64_t tail;		/* next position to look at */
	uint64_t consumed;	/* records returned, previous readers' too */
	uint64_t corrupt;	/* regions skipped at an inconsistent header */
	uint64_t abandoned;	/* skipped after PCPU__RING_STUCK_NS */
	uint64_t stuck_pos;	/* waited at, with a later record there */
	uint64_t stuck_since;	/* CLOCK_MONOTONIC ns | 1 when first seen
				 * so; 0: not waiting */
};

enum hdr_kind {
	HDR_NONE,	/* not this position's header: not written yet */
	HDR_PENDING,	/* reserved, not committed, fits its page */
	HDR_RECORD,	/* committed record that fits its page */
	HDR_PAD,	/* padding to the end of the page */
	HDR_BAD,	/* this position's stamp, but inconsistent */
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

/*
 * What the word w found at position t is (t 8-aligned, at least a header
 * before its page end).  Only the stamp of t says that a writer wrote it
 * on this lap; the flags and the length are then checked against what a
 * writer can produce: a padding record is committed and ends the page, a
 * record fits its page.
 */
static enum hdr_kind classify(const struct pcpu_ring_reader *rd, uint64_t t,
			      uint64_t w)
{
	uint64_t room = rd->page_size - (t & (rd->page_size - 1));
	uint64_t len = w & PCPU_RING_LEN_MASK;

	if ((w ^ pcpu__ring_stamp(rd->salt, t)) >> PCPU_RING_STAMP_SHIFT)
		return HDR_NONE;
	if (w & PCPU_RING_PAD)
		return (w & PCPU_RING_COMMITTED) && len == room ? HDR_PAD :
								  HDR_BAD;
	if (PCPU_RING_HDR_SIZE + ROUND_UP(len, 8) > room)
		return HDR_BAD;
	return w & PCPU_RING_COMMITTED ? HDR_RECORD : HDR_PENDING;
}

/*
 * Overwrite mode: the writers' highest reservation end; 0 (no claim) in
 * discard mode or when the word holds a position no writer can reach.
 * Acquire: pairs with the release fence after the writer's publication
 * in pcpu__ring_publish(), so data seen after this load is no older.
 */
static uint64_t shared_head(const struct pcpu_ring_reader *rd,
			    unsigned int c)
{
	uint64_t h;

	if (!(rd->flags & PCPU_RING_OVERWRITE))
		return 0;
	h = __atomic_load_n(&rd->ctl[c].head, __ATOMIC_ACQUIRE);
	return h < PCPU_RING_POS_LIMIT ? h : 0;
}

/* Overwrite mode: is position t already overrun by writers? */
static int overrun(const struct pcpu_ring_reader *rd, unsigned int c,
		   uint64_t t, uint64_t *head)
{
	*head = shared_head(rd, c);
	return *head > t && *head - t > rd->buf_size;
}

static void set_tail(struct pcpu_ring_reader *rd, unsigned int c,
		     uint64_t t)
{
	rd->cur[c].tail = t;
	/* Release: our copies of the records before t are done before a
	 * writer reuses the space; pairs with the acquire in reserve. */
	__atomic_store_n(&rd->ctl[c].tail, t, __ATOMIC_RELEASE);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

/*
 * Buffer c's reader is at t, where no committed record is (w, of kind
 * kind: NONE or PENDING).  Writers are past t if the header where the
 * next record must begin carries its position's stamp: right after a
 * pending record, else at the next page start.  Without that this is the
 * ordinary "nothing new yet", and costs one load.  With it, returns the
 * position to skip to once t has looked so for PCPU__RING_STUCK_NS, and
 * 0 until then.
 */
static uint64_t stuck(struct pcpu_ring_reader *rd, unsigned int c,
		      uint64_t t, uint64_t w, enum hdr_kind kind)
{
	struct pcpu__ring_cursor *k = &rd->cur[c];
	uint64_t q, now;

	q = kind == HDR_PENDING ? t + PCPU_RING_HDR_SIZE +
				  ROUND_UP(w & PCPU_RING_LEN_MASK, 8) :
				  page_end(rd, t);
	if (rd->page_size - (q & (rd->page_size - 1)) < PCPU_RING_HDR_SIZE)
		q = page_end(rd, q);
	/* Acquire: pairs with the release of that record's commit. */
	if (q >= PCPU_RING_POS_LIMIT ||
	    classify(rd, q, __atomic_load_n(hdr_at(rd, c, q),
					    __ATOMIC_ACQUIRE)) == HDR_NONE) {
		k->stuck_since = 0;
		return 0;
	}
	now = mono_ns() | 1;
	if (!k->stuck_since || k->stuck_pos != t) {
		k->stuck_pos = t;
		k->stuck_since = now;
		return 0;
	}
	if (now - k->stuck_since < PCPU__RING_STUCK_NS)
		return 0;
	k->stuck_since = 0;
	return q;
}

/*
 * Position the tail of buffer c on its next committed record, skipping
 * padding, overrun pages (overwrite mode) and damage (ring.h).  Returns 1
 * with the header in *w0 / *ts, 0 if there is none now or the call's
 * PCPU__RING_STEPS are used up (the progress is kept).  Every step moves
 * forward or ends the call.
 */
static int peek(struct pcpu_ring_reader *rd, unsigned int c, uint64_t *w0,
		uint64_t *ts)
{
	struct pcpu__ring_cursor *k = &rd->cur[c];
	uint64_t t = k->tail, head, w, to;
	unsigned int steps;
	enum hdr_kind kind;
	const uint64_t *h;
	int ret = 0;

	for (steps = 0; steps < PCPU__RING_STEPS && t < PCPU_RING_POS_LIMIT;
	     steps++) {
		if (overrun(rd, c, t, &head))
			t = ROUND_UP(head - rd->buf_size, rd->page_size);
		if (rd->page_size - (t & (rd->page_size - 1)) <
		    PCPU_RING_HDR_SIZE) {
			t = page_end(rd, t);
			continue;
		}
		h = hdr_at(rd, c, t);
		/* Acquire: pairs with the writer's release in commit (or of
		 * the padding in pcpu__ring_fill()). */
		w = __atomic_load_n(&h[0], __ATOMIC_ACQUIRE);
		kind = classify(rd, t, w);
		if (kind == HDR_RECORD) {
			*w0 = w;
			*ts = __atomic_load_n(&h[1], __ATOMIC_RELAXED);
			ret = 1;
			break;
		}
		if (kind == HDR_PAD) {
			t = page_end(rd, t);
			continue;
		}
		/*
		 * Not a record.  In overwrite mode a newer lap may have
		 * written here (over the low bytes of this header, say: the
		 * stamp sits in the high bytes); its writer published head
		 * before writing and our load saw the write, so head says
		 * so now.
		 */
		if (overrun(rd, c, t, &head))
			continue;
		if (kind == HDR_BAD) {
			k->corrupt++;
			t = page_end(rd, t);
			continue;
		}
		to = stuck(rd, c, t, w, kind);
		if (!to)
			break;
		k->abandoned++;
		t = to;
	}
	if (t != k->tail)
		set_tail(rd, c, t);
	return ret;
}

/* The shared header: a ring of this version whose geometry fits size. */
static int check_geometry(const struct pcpu_ring_shared *sh, size_t size)
{
	uint64_t ctl_end, data_len;

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
	if ((sh->ctl_off & 63) || (sh->data_off & 7) ||
	    sh->ctl_off < sizeof(*sh) || sh->data_off < sizeof(*sh) ||
	    sh->ctl_off > size || ctl_end > size - sh->ctl_off ||
	    sh->data_off > size || data_len > size - sh->data_off)
		return -1;
	ctl_end += sh->ctl_off;
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
	k->tail = t;
	if (t < PCPU_RING_POS_LIMIT && !(t & 7))
		return;
	k->corrupt++;
	set_tail(rd, c, t < PCPU_RING_POS_LIMIT ? page_end(rd, t) : 0);
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
	if (!rd->cur) {
		errno = ENOMEM;
		return -1;
	}
	rd->mem = mem;
	rd->size = size;
	rd->data = (char *)mem + sh.data_off;
	rd->ctl = (struct pcpu_ring_ctl *)((char *)mem + sh.ctl_off);
	rd->buf_size = sh.buf_size;
	rd->page_size = sh.page_size;
	rd->salt = sh.salt;
	rd->nbufs = sh.nbufs;
	rd->flags = sh.flags;
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
	free(rd->cur);
	if (rd->map)
		munmap(rd->map, rd->map_size);
	rd->cur = NULL;
	rd->map = NULL;
	rd->map_size = 0;
	rd->nbufs = 0;
}

unsigned int pcpu_ring_reader_nbufs(const struct pcpu_ring_reader *rd)
{
	return rd ? rd->nbufs : 0;
}

int pcpu_ring_read(struct pcpu_ring_reader *rd, unsigned int cpu,
		   struct pcpu_ring_entry *e, void *data, size_t cap)
{
	uint64_t w, ts, len, t, head;
	unsigned int tries;
	const char *p;
	int ret;

	if (!rd || !rd->cur || cpu >= rd->nbufs || !e || (cap && !data)) {
		errno = EINVAL;
		return -1;
	}
	for (tries = 0; tries < PCPU__RING_TRIES; tries++) {
		ret = peek(rd, cpu, &w, &ts);
		if (ret <= 0)
			return ret;
		t = rd->cur[cpu].tail;
		len = w & PCPU_RING_LEN_MASK;	/* fits: classify() */
		e->stamp = ts;
		e->cpu = cpu;
		e->len = (uint32_t)len;
		if (len > cap) {
			/* A header half overwritten (see peek())? */
			if (overrun(rd, cpu, t, &head))
				continue;
			errno = EMSGSIZE;
			return -1;
		}
		p = (const char *)hdr_at(rd, cpu, t) + PCPU_RING_HDR_SIZE;
		if (!(rd->flags & PCPU_RING_OVERWRITE)) {
			if (len)
				memcpy(data, p, len);
			goto got;
		}
		/* Seqlock reader: copy, then check that no writer entered
		 * the space meanwhile (it publishes head first). */
		PCPU__IGNORE_READS_BEGIN();
		if (len)
			memcpy(data, p, len);
		PCPU__IGNORE_READS_END();
		/* Acquire: the copy before the head load; pairs with the
		 * writer's release fence after publishing head. */
		PCPU__FENCE_ACQ();
		if (!overrun(rd, cpu, t, &head))
			goto got;
	}
	return 0;	/* writers overran every copy: none now */
got:
	rd->cur[cpu].consumed++;
	__atomic_store_n(&rd->ctl[cpu].consumed, rd->cur[cpu].consumed,
			 __ATOMIC_RELAXED);
	set_tail(rd, cpu, t + PCPU_RING_HDR_SIZE + ROUND_UP(len, 8));
	return 1;
}

int pcpu_ring_read_next(struct pcpu_ring_reader *rd,
			struct pcpu_ring_entry *e, void *data, size_t cap)
{
	uint64_t w, ts, best_ts = 0;
	unsigned int i, c, best = 0;
	int found = 0;

	if (!rd || !rd->cur || !e) {
		errno = EINVAL;
		return -1;
	}
	/* Strictly older wins; of equal stamps the first from rd->next. */
	for (i = 0, c = rd->next; i < rd->nbufs; i++) {
		if (peek(rd, c, &w, &ts) == 1 && (!found || ts < best_ts)) {
			found = 1;
			best = c;
			best_ts = ts;
		}
		c = c + 1 == rd->nbufs ? 0 : c + 1;
	}
	if (!found)
		return 0;
	rd->next = best + 1 == rd->nbufs ? 0 : best + 1;
	return pcpu_ring_read(rd, best, e, data, cap);
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
		st->written = __atomic_load_n(&rd->ctl[cpu].written,
					      __ATOMIC_RELAXED);
		st->overwritten = st->written > st->consumed ?
				  st->written - st->consumed : 0;
		st->lost = sat_add(st->discarded, st->overwritten);
	} else {
		st->lost = sat_add(sat_add(st->discarded, st->corrupt),
				   st->abandoned);
	}
	return 0;
}
