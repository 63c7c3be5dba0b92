// SPDX-License-Identifier: MIT
/*
 * Per-CPU ring buffers: creation, writer slow paths and the consumer.
 * The format and the writer fast path are in percpu/ring.h.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
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
	r->fd = memfd_create("pcpu_ring", MFD_CLOEXEC);
	if (r->fd < 0 && errno != ENOSYS && errno != EPERM)
		goto fail;
	if (r->fd >= 0 && ftruncate(r->fd, (off_t)total))
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

/* ---- consumer -------------------------------------------------------- */

int pcpu_ring_reader_open(struct pcpu_ring_reader *rd, void *mem,
			  size_t size)
{
	struct pcpu_ring_shared sh;
	uint64_t ctl_end, data_len;
	unsigned int c;

	if (!rd || !mem || size < sizeof(sh) || ((uintptr_t)mem & 63)) {
		errno = EINVAL;
		return -1;
	}
	memset(rd, 0, sizeof(*rd));
	/* Acquire: pairs with the release store of the magic at creation.
	 * Then one snapshot of the geometry, never re-read, so a writer
	 * that changes it later cannot move our bounds. */
	if (__atomic_load_n((uint64_t *)mem, __ATOMIC_ACQUIRE) !=
	    PCPU_RING_MAGIC)
		goto bad;
	memcpy(&sh, mem, sizeof(sh));
	if (sh.magic != PCPU_RING_MAGIC || sh.version != PCPU_RING_VERSION ||
	    (sh.flags & ~(PCPU_RING_OVERWRITE | PCPU_RING_NO_CLOCK)) ||
	    !sh.nbufs || sh.nbufs > PCPU_RING_MAX_BUFS ||
	    !pow2(sh.buf_size) || !pow2(sh.page_size) ||
	    sh.page_size < PCPU_RING_MIN_PAGE || sh.page_size > sh.buf_size ||
	    sh.page_size > PCPU_RING_MAX_PAGE ||
	    sh.buf_size > PCPU_RING_MAX_BUF || sh.total_size > size)
		goto bad;
	data_len = (uint64_t)sh.nbufs * sh.buf_size;	/* <= 2^50 */
	ctl_end = (uint64_t)sh.nbufs * sizeof(struct pcpu_ring_ctl);
	if ((sh.ctl_off & 63) || (sh.data_off & 7) ||
	    sh.ctl_off < sizeof(sh) || sh.data_off < sizeof(sh) ||
	    sh.ctl_off > size || ctl_end > size - sh.ctl_off ||
	    sh.data_off > size || data_len > size - sh.data_off)
		goto bad;
	ctl_end += sh.ctl_off;
	if (!(ctl_end <= sh.data_off || sh.data_off + data_len <= sh.ctl_off))
		goto bad;
	rd->tail = calloc(sh.nbufs, sizeof(uint64_t));
	rd->consumed = calloc(sh.nbufs, sizeof(uint64_t));
	if (!rd->tail || !rd->consumed) {
		pcpu_ring_reader_close(rd);
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
	for (c = 0; c < sh.nbufs; c++) {
		rd->tail[c] = __atomic_load_n(&rd->ctl[c].tail,
					      __ATOMIC_RELAXED);
		rd->consumed[c] = __atomic_load_n(&rd->ctl[c].consumed,
						  __ATOMIC_RELAXED);
	}
	return 0;
bad:
	errno = EBADMSG;
	return -1;
}

void pcpu_ring_reader_close(struct pcpu_ring_reader *rd)
{
	if (!rd)
		return;
	free(rd->tail);
	free(rd->consumed);
	rd->tail = rd->consumed = NULL;
	rd->nbufs = 0;
}

unsigned int pcpu_ring_reader_nbufs(const struct pcpu_ring_reader *rd)
{
	return rd ? rd->nbufs : 0;
}

/* Overwrite mode: is position t already overrun by writers? */
static int overrun(struct pcpu_ring_reader *rd, unsigned int c, uint64_t t,
		   uint64_t *head)
{
	if (!(rd->flags & PCPU_RING_OVERWRITE))
		return 0;
	*head = __atomic_load_n(&rd->ctl[c].head, __ATOMIC_ACQUIRE);
	return *head > t && *head - t > rd->buf_size;
}

static void set_tail(struct pcpu_ring_reader *rd, unsigned int c,
		     uint64_t t)
{
	rd->tail[c] = t;
	/* Release: our copies of the records before t are done before a
	 * writer reuses the space; pairs with the acquire in reserve. */
	__atomic_store_n(&rd->ctl[c].tail, t, __ATOMIC_RELEASE);
}

/*
 * Position the tail of buffer c on its next committed record, skipping
 * padding and (overwrite) overrun pages.  Returns 1 with the header in
 * *w0 / *ts, 0 if there is none now, -1 (EBADMSG) if the header at the
 * tail is inconsistent.  Every iteration advances by at least 8 bytes and
 * a stale lap never matches the stamp, so the loop ends within a lap.
 */
static int peek(struct pcpu_ring_reader *rd, unsigned int c, uint64_t *w0,
		uint64_t *ts)
{
	const char *b = rd->data + (uint64_t)c * rd->buf_size;
	uint64_t t = rd->tail[c], pm = rd->page_size - 1, head = 0;
	uint64_t guard = rd->buf_size / 8 + 2;

	while (guard--) {
		uint64_t off, w, len;
		const uint64_t *h;

		if (overrun(rd, c, t, &head))
			t = ROUND_UP(head - rd->buf_size, rd->page_size);
		off = t & pm;
		if (rd->page_size - off < PCPU_RING_HDR_SIZE) {
			t = (t | pm) + 1;
			continue;
		}
		h = (const uint64_t *)(b + (t & (rd->buf_size - 1)));
		/* Acquire: pairs with the writer's release in commit. */
		w = __atomic_load_n(&h[0], __ATOMIC_ACQUIRE);
		if ((w ^ pcpu__ring_stamp(rd->salt, t)) >>
		    PCPU_RING_STAMP_SHIFT || !(w & PCPU_RING_COMMITTED)) {
			if (overrun(rd, c, t, &head))
				continue;
			break;
		}
		len = w & PCPU_RING_LEN_MASK;
		if (w & PCPU_RING_PAD) {
			if (len == rd->page_size - off) {
				t += len;
				continue;
			}
		} else if (off + PCPU_RING_HDR_SIZE + ROUND_UP(len, 8) <=
			   rd->page_size) {
			*w0 = w;
			*ts = __atomic_load_n(&h[1], __ATOMIC_RELAXED);
			if (t != rd->tail[c])
				set_tail(rd, c, t);
			return 1;
		}
		/*
		 * Inconsistent.  In overwrite mode a newer lap's payload may
		 * have covered the low bytes of this header (the stamp sits
		 * in the high bytes): the writer published its head before
		 * writing and our load saw the write, so head says so now.
		 */
		if (overrun(rd, c, t, &head))
			continue;
		goto bad;
	}
	if (t != rd->tail[c])
		set_tail(rd, c, t);
	return 0;
bad:
	if (t != rd->tail[c])
		set_tail(rd, c, t);
	errno = EBADMSG;
	return -1;
}

int pcpu_ring_read(struct pcpu_ring_reader *rd, unsigned int cpu,
		   struct pcpu_ring_entry *e, void *data, size_t cap)
{
	uint64_t w, ts, len, t, head;
	const char *p;
	int ret;

	if (!rd || !rd->tail || cpu >= rd->nbufs || !e || (cap && !data)) {
		errno = EINVAL;
		return -1;
	}
	for (;;) {
		ret = peek(rd, cpu, &w, &ts);
		if (ret <= 0)
			return ret;
		t = rd->tail[cpu];
		len = w & PCPU_RING_LEN_MASK;
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
		p = rd->data + (uint64_t)cpu * rd->buf_size +
		    (t & (rd->buf_size - 1)) + PCPU_RING_HDR_SIZE;
		if (!(rd->flags & PCPU_RING_OVERWRITE)) {
			if (len)
				memcpy(data, p, len);
			break;
		}
		/* Seqlock reader: copy, then check that no writer entered
		 * the space meanwhile (it publishes head first). */
		PCPU__IGNORE_READS_BEGIN();
		if (len)
			memcpy(data, p, len);
		PCPU__IGNORE_READS_END();
		PCPU__FENCE_ACQ();
		if (!overrun(rd, cpu, t, &head))
			break;
	}
	rd->consumed[cpu]++;
	__atomic_store_n(&rd->ctl[cpu].consumed, rd->consumed[cpu],
			 __ATOMIC_RELAXED);
	set_tail(rd, cpu, t + PCPU_RING_HDR_SIZE + ROUND_UP(len, 8));
	return 1;
}

int pcpu_ring_read_next(struct pcpu_ring_reader *rd,
			struct pcpu_ring_entry *e, void *data, size_t cap)
{
	uint64_t w, ts, best_ts = 0;
	unsigned int c, best = 0;
	int found = 0, ret;

	if (!rd || !rd->tail || !e) {
		errno = EINVAL;
		return -1;
	}
	for (c = 0; c < rd->nbufs; c++) {
		ret = peek(rd, c, &w, &ts);
		if (ret < 0) {
			e->cpu = c;
			return -1;
		}
		if (ret && (!found || ts < best_ts)) {
			found = 1;
			best = c;
			best_ts = ts;
		}
	}
	if (!found)
		return 0;
	return pcpu_ring_read(rd, best, e, data, cap);
}

int pcpu_ring_reader_stats(struct pcpu_ring_reader *rd, unsigned int cpu,
			   struct pcpu_ring_stats *st)
{
	if (!rd || !rd->tail || cpu >= rd->nbufs || !st) {
		errno = EINVAL;
		return -1;
	}
	memset(st, 0, sizeof(*st));
	st->consumed = rd->consumed[cpu];
	st->discarded = __atomic_load_n(&rd->ctl[cpu].discarded,
					__ATOMIC_RELAXED);
	if (rd->flags & PCPU_RING_OVERWRITE) {
		st->written = __atomic_load_n(&rd->ctl[cpu].written,
					      __ATOMIC_RELAXED);
		st->overwritten = st->written - st->consumed;
	}
	st->lost = st->discarded + st->overwritten;
	return 0;
}
