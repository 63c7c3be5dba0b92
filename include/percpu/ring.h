/* SPDX-License-Identifier: MIT */
/*
 * percpu/ring.h - per-CPU ring buffers for variable-size records.
 *
 * The tracing case (the kernel's ring_buffer.c and LTTng's lib ring
 * buffer are the models): many threads write records, one consumer reads
 * them, possibly from another process.
 *
 * Layout.  One buffer of buf_size bytes per CPU copy (pcpu_nr_copies(),
 * the spare copy included), cut into pages of page_size bytes; a record
 * never crosses a page.  Every buffer, its control block and the page
 * commit counters live in one memfd mapping (pcpu_ring_fd()), so another
 * process can map it and read.  A record is a 16-byte header and the
 * payload, padded to 8 bytes:
 *
 *	word0:  stamp46 << 18 | COMMITTED | PAD | len   (len < 2^16)
 *	word1:  the record's 64-bit timestamp (TSC on x86)
 *
 * where stamp46 is the top 46 bits of ((position >> 3) ^ salt) * K (K odd),
 * position is the record's absolute byte offset in its CPU's stream and
 * salt a random number chosen at creation.  The consumer accepts the
 * header at position p only if it carries stamp46(p) and COMMITTED, so
 * stale bytes of an earlier lap are not taken for a record: a stale word
 * passes with probability 2^-47, and the hash keeps structured payloads
 * (counters, arithmetic patterns) from lining up with the stamps of
 * neighbouring positions, as a plain position would let them.
 *
 * Writers.  The reservation word of each copy is a per-CPU handle holding
 * (copy << pos_bits) | position: the copy's own index sits in the value,
 * so whichever copy this_cpu_cmpxchg() lands on, its return value says
 * which buffer the space belongs to, and a value read on one CPU never
 * matches another copy's word after a migration.  Reserve is
 *
 *	old = this_cpu_read(resv)
 *	loop: compute [begin, end) (skip to the next page if it does not
 *	      fit; the gap becomes a padding record), check space, read the
 *	      clock, seen = this_cpu_cmpxchg(resv, old, end); retry on seen
 *
 * lock-free, no system call, no lock prefix on the rseq and gs backends.
 * The space is the writer's alone: a writer preempted, migrated or
 * interrupted by a signal handler that writes to the same CPU (nesting)
 * between reserve and commit delays nobody but the consumer, which waits
 * at its record.  The timestamp is read inside the retry loop, after the
 * last read of the position, so within one CPU's stream timestamps follow
 * positions (with a monotonic, synchronized TSC).
 *
 * Modes.  Discard (default): a writer whose record does not fit between
 * the consumer's tail and the buffer's end drops it and counts it in the
 * buffer's `discarded` counter.  Overwrite (PCPU_RING_OVERWRITE, flight
 * recorder): writers run over the oldest pages; a writer may only enter a
 * page whose previous lap is fully committed (per-page commit counters),
 * so a preempted writer's record is never overwritten under it; if it is
 * not, the new record is dropped and counted in `discarded`, as LTTng
 * does.  The overwrite writer publishes its reservation end in the
 * buffer's `head` before writing (seqlock style) so the consumer detects
 * records overwritten while it copied them.  In overwrite mode each
 * commit also counts `written`, and records lost to overwriting are
 * written - consumed once the consumer has drained and writers are
 * quiescent.
 *
 * Consumer.  pcpu_ring_reader_open() takes any mapping of the ring
 * (read-write: the consumer publishes its tail there), validates the
 * geometry once and keeps its own copy: every offset it later derives is
 * masked into its buffer, every length checked against its page, so a
 * corrupted or hostile buffer yields EBADMSG or no record, never an
 * out-of-bounds access.  One reader per ring at a time.
 *
 * Fork: the child shares the memfd mapping but has private reservation
 * words; it must not write to the parent's ring (create its own).
 */
#ifndef PERCPU_RING_H
#define PERCPU_RING_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ops.h"
#include "lock.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PCPU_RING_OVERWRITE	0x1u	/* flight recorder mode */
#define PCPU_RING_NO_CLOCK	0x2u	/* timestamps are 0 (no merge order) */

#define PCPU_RING_MAGIC		UINT64_C(0x31474e5255504350)	/* "PCPURNG1" */
#define PCPU_RING_VERSION	1
#define PCPU_RING_HDR_SIZE	16
#define PCPU_RING_COMMITTED	(UINT64_C(1) << 17)
#define PCPU_RING_PAD		(UINT64_C(1) << 16)
#define PCPU_RING_LEN_MASK	((UINT64_C(1) << 16) - 1)
#define PCPU_RING_STAMP_SHIFT	18
#define PCPU_RING_MIN_PAGE	64
#define PCPU_RING_MAX_PAGE	65536
#define PCPU_RING_MAX_BUF	(UINT64_C(1) << 34)
#define PCPU_RING_MAX_BUFS	65536

/* Shared layout, at offset 0 of the mapping. */
struct pcpu_ring_shared {
	uint64_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nbufs;
	uint32_t reserved0;
	uint64_t buf_size;	/* bytes per CPU buffer, power of two */
	uint64_t page_size;	/* power of two, <= buf_size */
	uint64_t salt;
	uint64_t ctl_off;	/* struct pcpu_ring_ctl[nbufs] */
	uint64_t commit_off;	/* uint64_t[nbufs * pages per buffer] */
	uint64_t data_off;	/* nbufs * buf_size bytes */
	uint64_t total_size;
};

/* Per-buffer control block: a writers' line and a consumer's line. */
struct pcpu_ring_ctl {
	uint64_t head;		/* overwrite: highest reservation end */
	uint64_t discarded;	/* records dropped by writers */
	uint64_t written;	/* overwrite: records committed */
	uint64_t pad0[5];
	uint64_t tail;		/* consumer: position read up to */
	uint64_t consumed;	/* consumer: records returned */
	uint64_t pad1[6];
};

/* Writer's handle.  Fields are private; the inline fast paths read them. */
struct pcpu_ring {
	uint64_t __pcpu *resv;		/* (copy << pos_bits) | position */
	char *data;
	struct pcpu_ring_ctl *ctl;
	uint64_t *commits;
	uint64_t buf_size, page_size, salt, pos_mask, max_len;
	unsigned int pos_bits, buf_shift, page_shift, nbufs, flags;
	int fd;
	void *mem;
	size_t mem_size;
};

struct pcpu_ring_params {
	size_t buf_size;	/* per CPU; 0: 1 MiB.  Power of two */
	size_t page_size;	/* 0: 4 KiB.  Power of two, 64 .. 64 KiB */
	unsigned int flags;	/* PCPU_RING_OVERWRITE, PCPU_RING_NO_CLOCK */
};

/*
 * pcpu_ring_create - a ring with one buffer per CPU copy, in a new memfd.
 * params NULL means all defaults.  Returns the ring, or NULL with errno
 * EINVAL (sizes not powers of two, page larger than the buffer or than
 * PCPU_RING_MAX_PAGE, buffer larger than PCPU_RING_MAX_BUF), ENOMEM,
 * or a memfd_create()/mmap()
 * error.  MT-safe; not async-signal-safe.
 */
struct pcpu_ring *pcpu_ring_create(const struct pcpu_ring_params *params);

/*
 * pcpu_ring_destroy - unmap and close.  No writer may be active.
 * Returns 0, or -1 with errno EINVAL.
 */
int pcpu_ring_destroy(struct pcpu_ring *r);

/*
 * pcpu_ring_fd - the memfd holding the ring (for another process: pass it
 * over a UNIX socket, mmap it MAP_SHARED read-write, open a reader on it).
 * Returns -1 with errno ENOSYS when memfd_create() was refused at creation
 * (seccomp, no TMPFS): the ring then lives in an anonymous shared mapping
 * that only this process and its fork() children see.
 * pcpu_ring_mem / pcpu_ring_mem_size - this process's mapping of it.
 * MT-safe, async-signal-safe.
 */
int pcpu_ring_fd(const struct pcpu_ring *r);
void *pcpu_ring_mem(const struct pcpu_ring *r);
size_t pcpu_ring_mem_size(const struct pcpu_ring *r);

/* Slow paths, out of line (not API). */
void *pcpu__ring_drop(struct pcpu_ring *r, uint64_t buf);
int pcpu__ring_page_ready(struct pcpu_ring *r, uint64_t buf, uint64_t pos);
void pcpu__ring_publish(struct pcpu_ring *r, uint64_t buf, uint64_t begin,
			uint64_t end);
void pcpu__ring_commit_bytes(struct pcpu_ring *r, uint64_t buf,
			     uint64_t pos, uint64_t bytes, int record);

PCPU__INLINE uint64_t pcpu__ring_clock(const struct pcpu_ring *r)
{
	if (r->flags & PCPU_RING_NO_CLOCK)
		return 0;
#if defined(__x86_64__) || defined(__i386__)
	return __builtin_ia32_rdtsc();
#else
	{
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		return (uint64_t)ts.tv_sec * 1000000000u + ts.tv_nsec;
	}
#endif
}

/* The stamp of position pos in the top 46 bits, the rest zero. */
PCPU__INLINE uint64_t pcpu__ring_stamp(uint64_t salt, uint64_t pos)
{
	uint64_t x = ((pos >> 3) ^ salt) * UINT64_C(0x9e3779b97f4a7c15);

	return x >> PCPU_RING_STAMP_SHIFT << PCPU_RING_STAMP_SHIFT;
}

PCPU__INLINE uint64_t pcpu__ring_word0(uint64_t salt, uint64_t pos,
				       uint64_t flags_len)
{
	return pcpu__ring_stamp(salt, pos) | flags_len;
}

/* After a reservation: padding, header, and (overwrite) publication. */
PCPU__INLINE void *pcpu__ring_fill(struct pcpu_ring *r, uint64_t buf,
				   uint64_t pos, uint64_t begin, uint64_t end,
				   uint64_t len, uint64_t ts)
{
	char *b = r->data + (buf << r->buf_shift);
	uint64_t *h;

	if (r->flags & PCPU_RING_OVERWRITE)
		pcpu__ring_publish(r, buf, begin, end);
	if (PCPU__UNLIKELY(begin != pos)) {
		uint64_t gap = begin - pos;

		if (gap >= PCPU_RING_HDR_SIZE) {
			h = (uint64_t *)(b + (pos & (r->buf_size - 1)));
			__atomic_store_n(&h[1], 0, __ATOMIC_RELAXED);
			/* Release: pairs with the consumer's acquire. */
			__atomic_store_n(&h[0], pcpu__ring_word0(r->salt, pos,
					 PCPU_RING_COMMITTED | PCPU_RING_PAD |
					 gap), __ATOMIC_RELEASE);
		}
		if (r->flags & PCPU_RING_OVERWRITE)
			pcpu__ring_commit_bytes(r, buf, pos, gap, 0);
	}
	/* For TSan: the last lap's writers of this space happen before us,
	 * through a consumer that may live in another process (its release
	 * of tail is then invisible here); pairs with commit's release. */
	PCPU__HB_ACQUIRE(&r->ctl[buf]);
	h = (uint64_t *)(b + (begin & (r->buf_size - 1)));
	__atomic_store_n(&h[1], ts, __ATOMIC_RELAXED);
	__atomic_store_n(&h[0], pcpu__ring_word0(r->salt, begin, len),
			 __ATOMIC_RELAXED);
	return h + 2;
}

/*
 * pcpu_ring_reserve - space for a record of len bytes in this CPU's
 * buffer.  Write the payload there, then pcpu_ring_commit() it; until then
 * the consumer stops at it (other writers are not affected).  Returns the
 * payload address (8-byte aligned), or NULL with errno ENOBUFS (no room:
 * the record is counted in `discarded`), EMSGSIZE (len > page_size - 16)
 * or EINVAL (r NULL).  Lock-free, no system call.  MT-safe and
 * async-signal-safe (a handler may reserve and commit while the thread it
 * interrupted holds a reservation).  Fork: see above.
 */
static inline void *pcpu_ring_reserve(struct pcpu_ring *r, size_t len)
{
	uint64_t old, seen, buf, pos, begin, end, rec, ts, pm;

	if (PCPU__UNLIKELY(!r || len > r->max_len)) {
		errno = r ? EMSGSIZE : EINVAL;
		return NULL;
	}
	rec = PCPU_RING_HDR_SIZE + ((len + 7) & ~(uint64_t)7);
	pm = r->page_size - 1;
	old = this_cpu_read(r->resv);
	for (;;) {
		buf = old >> r->pos_bits;
		pos = old & r->pos_mask;
		begin = (pos & pm) + rec > r->page_size ? (pos | pm) + 1 : pos;
		end = begin + rec;
		if (PCPU__UNLIKELY(end > r->pos_mask || buf >= r->nbufs))
			goto full;
		if (!(r->flags & PCPU_RING_OVERWRITE)) {
			/* Acquire: the consumer copied out what we are about
			 * to overwrite; pairs with its release of tail. */
			uint64_t tail = __atomic_load_n(&r->ctl[buf].tail,
							__ATOMIC_ACQUIRE);

			if (PCPU__UNLIKELY(end - tail > r->buf_size))
				goto full;
		} else if (PCPU__UNLIKELY(!(begin & pm)) &&
			   !pcpu__ring_page_ready(r, buf, begin)) {
			goto full;
		}
		ts = pcpu__ring_clock(r);
		seen = this_cpu_cmpxchg(r->resv, old,
					buf << r->pos_bits | end);
		if (PCPU__LIKELY(seen == old))
			break;
		old = seen;	/* raced on this copy, or ran on another */
		continue;
full:
		/* A thread that slept after reading old sees a position far
		 * behind the tail: only a current position may drop. */
		seen = this_cpu_read(r->resv);
		if (seen == old)
			return pcpu__ring_drop(r, buf);
		old = seen;
	}
	return pcpu__ring_fill(r, buf, pos, begin, end, len, ts);
}

/*
 * pcpu_ring_commit - publish the record reserved at rec (the address
 * pcpu_ring_reserve() returned), from any thread or CPU.  Returns 0, or
 * -1 with errno EINVAL (not a reserved, uncommitted record of r).
 * Lock-free (discard mode: one store; overwrite mode: two atomic adds).
 * MT-safe, async-signal-safe.
 */
static inline int pcpu_ring_commit(struct pcpu_ring *r, void *rec)
{
	uint64_t off, w, *h;

	if (PCPU__UNLIKELY(!r || !rec))
		goto bad;
	off = (uint64_t)((char *)rec - r->data) - PCPU_RING_HDR_SIZE;
	if (PCPU__UNLIKELY(off >= (uint64_t)r->nbufs << r->buf_shift ||
			   (off & 7)))
		goto bad;
	h = (uint64_t *)(r->data + off);
	w = __atomic_load_n(&h[0], __ATOMIC_RELAXED);
	if (PCPU__UNLIKELY(w & (PCPU_RING_COMMITTED | PCPU_RING_PAD)))
		goto bad;
	PCPU__HB_RELEASE(&r->ctl[off >> r->buf_shift]);
	/* Release: the payload before the flag; pairs with the consumer's
	 * acquire load of word0. */
	__atomic_store_n(&h[0], w | PCPU_RING_COMMITTED, __ATOMIC_RELEASE);
	if (r->flags & PCPU_RING_OVERWRITE)
		pcpu__ring_commit_bytes(r, off >> r->buf_shift,
					off & (r->buf_size - 1),
					PCPU_RING_HDR_SIZE +
					(((w & PCPU_RING_LEN_MASK) + 7) & ~7ull),
					1);
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/*
 * pcpu_ring_write - reserve, copy len bytes from data, commit.
 * Returns 0 or -1 with the errno of pcpu_ring_reserve().
 * MT-safe, async-signal-safe.
 */
static inline int pcpu_ring_write(struct pcpu_ring *r, const void *data,
				  size_t len)
{
	void *p = pcpu_ring_reserve(r, len);

	if (!p)
		return -1;
	__builtin_memcpy(p, data, len);
	return pcpu_ring_commit(r, p);
}

/* ---- consumer -------------------------------------------------------- */

struct pcpu_ring_reader {
	char *mem;
	size_t size;
	char *data;
	struct pcpu_ring_ctl *ctl;
	uint64_t buf_size, page_size, salt;
	unsigned int nbufs, flags;
	uint64_t *tail;		/* private positions, one per buffer */
	uint64_t *consumed;	/* private counts */
};

struct pcpu_ring_entry {
	uint64_t stamp;		/* timestamp taken at reservation */
	uint32_t cpu;		/* buffer (copy index) it came from */
	uint32_t len;		/* payload length */
};

struct pcpu_ring_stats {
	uint64_t consumed;	/* records this reader returned */
	uint64_t discarded;	/* dropped by writers (full, or busy page) */
	uint64_t written;	/* overwrite mode: records committed */
	uint64_t overwritten;	/* overwrite mode: written - consumed */
	uint64_t lost;		/* discarded + overwritten */
};

/*
 * pcpu_ring_reader_open - a consumer on the mapping [mem, mem + size) of
 * a ring (this process's pcpu_ring_mem(), or another process's mmap of
 * pcpu_ring_fd(), MAP_SHARED, PROT_READ | PROT_WRITE).  Checks the magic,
 * version and geometry against size, copies them, and starts at the tail
 * the previous reader left.  Returns 0, or -1 with errno EINVAL (NULL or
 * too small), EBADMSG (not a ring, or inconsistent geometry) or ENOMEM.
 * Not async-signal-safe.
 */
int pcpu_ring_reader_open(struct pcpu_ring_reader *rd, void *mem,
			  size_t size);

/* pcpu_ring_reader_close - free the reader's memory (not the mapping). */
void pcpu_ring_reader_close(struct pcpu_ring_reader *rd);

/* Number of per-CPU buffers (valid after open). */
unsigned int pcpu_ring_reader_nbufs(const struct pcpu_ring_reader *rd);

/*
 * pcpu_ring_read - the next record of buffer cpu: copies the payload into
 * data (cap bytes) and fills *e.  Returns 1, 0 when no committed record
 * is available now, or -1 with errno EINVAL (bad arguments), EMSGSIZE
 * (cap < e->len: nothing consumed, e->len says how much is needed) or
 * EBADMSG (the buffer is corrupted at the tail).  Never returns a torn
 * or uncommitted record.  Concurrent with writers; one reader per ring.
 */
int pcpu_ring_read(struct pcpu_ring_reader *rd, unsigned int cpu,
		   struct pcpu_ring_entry *e, void *data, size_t cap);

/*
 * pcpu_ring_read_next - the next record of all buffers merged by
 * timestamp (the oldest of the buffers' next records).  Same returns as
 * pcpu_ring_read().
 */
int pcpu_ring_read_next(struct pcpu_ring_reader *rd,
			struct pcpu_ring_entry *e, void *data, size_t cap);

/*
 * pcpu_ring_reader_stats - counts of buffer cpu (see pcpu_ring_stats).
 * Returns 0, or -1 with errno EINVAL.
 */
int pcpu_ring_reader_stats(struct pcpu_ring_reader *rd, unsigned int cpu,
			   struct pcpu_ring_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* PERCPU_RING_H */
