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
 * commit counters live in one memfd mapping (pcpu_ring_fd()), its size
 * sealed, so another process can map it and read.  A record is a 16-byte
 * header and the payload, padded to 8 bytes:
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
 * The space check reads the consumer's tail as a signed distance: a tail
 * ahead of the writer (a consumer that skipped a damaged page) means
 * free space, not a full buffer.  The space is the writer's alone: a
 * writer preempted, migrated or interrupted by a signal handler that
 * writes to the same CPU (nesting) between reserve and commit delays
 * nobody but the consumer, which waits at its record (up to
 * PCPU_RING_STUCK_NS once later records are committed, see Consumer).
 * The timestamp is read inside the retry loop, after the last read of
 * the position, so within one CPU's stream timestamps follow positions
 * (with a monotonic, synchronized TSC).
 *
 * Commit is given a pointer and trusts none of it: the header before it
 * must be an uncommitted reservation carrying the stamp of the one
 * position at that offset that lies within a buffer's length below that
 * buffer's reservation word (a pending reservation is never older: the
 * consumer waits at it, and overwrite writers do not enter its page
 * again).  The commit flag is then set with a compare-and-swap from
 * exactly that header, so a double commit, concurrent or not, is
 * refused, and a pointer into a payload or into a lapped record cannot
 * mark anything or, in overwrite mode, add a bogus length to a page's
 * commit count (there the length must also fit the page).  That costs
 * about 2 ns per record here (a dependent load, a multiply and a locked
 * instruction instead of a plain store).
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
 * Consumer.  The consumer may live in another process and must survive
 * whatever a broken or hostile writer leaves in shared memory: a call
 * returns an error, a record or "none now", within a bounded amount of
 * work, never faults and never touches memory outside the mapping.  A
 * writer owns its data, so it can always withhold, forge or garble the
 * records of its buffers; it cannot crash the reader, hold one of its
 * calls, or keep it from reading the other buffers.  What that takes:
 *
 *  - The mapping cannot shrink under the reader.  The memfd is sealed at
 *    creation (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL), and
 *    pcpu_ring_reader_open_fd() maps a ring only after checking those
 *    seals and the size (fstat); it unmaps it at close.  The older
 *    pcpu_ring_reader_open() takes a pointer it cannot check: use it on
 *    this process's pcpu_ring_mem(), or on a mapping of a file whose
 *    size nobody else can change; a peer that truncates an unsealed file
 *    under it kills the reader with SIGBUS, and nothing here can stop
 *    that.
 *  - Every word read from the mapping is treated as hostile, and read
 *    in one place (ring.c): the geometry once at open (copied, never
 *    re-read), the tail and counts the previous reader left once at open
 *    (the reader then keeps its own positions), record headers and the
 *    overwrite head at every read.  A position must be 8-aligned and
 *    below PCPU_RING_POS_LIMIT; an offset is masked into its buffer; a
 *    length must fit its page.
 *  - A damaged region costs the records in it, not the buffer.  A header
 *    that carries its position's stamp but is inconsistent (a length
 *    that leaves the page, a padding record that does not end the page)
 *    is skipped with the rest of its page: records never cross a page,
 *    so the next page start is a resynchronization point.  Counted in
 *    `corrupt`.
 *  - A position that stays without a committed record while a later
 *    record is committed (an abandoned reservation, or a header whose
 *    stamp or commit flag was damaged) is skipped to that later record
 *    once the reader has seen it so for PCPU_RING_STUCK_NS.  Counted in
 *    `abandoned`.  The writer of a reservation skipped that way is not
 *    told: its commit still succeeds while its space is unused, and
 *    fails (EINVAL) once a later lap took it, but in discard mode its
 *    payload stores may land on that later lap's record (the writer
 *    redesign of issue 11 removes that window).
 *  - Every loop is bounded: a call examines at most PCPU__RING_STEPS
 *    headers per buffer and copies at most PCPU__RING_TRIES times; then
 *    it returns 0 ("none now") with its progress kept, and the next call
 *    goes on from there.
 *  - pcpu_ring_read_next() orders buffers by the writers' timestamps,
 *    ties taken in turn: a writer that stamps its records in the past is
 *    read first for as long as it writes them.  A consumer that must be
 *    fair to the other buffers against such a writer reads each buffer
 *    with pcpu_ring_read().
 *
 * One reader per ring at a time.
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
/* Positions (byte offsets in a CPU's stream) stay below this: the
 * reservation word keeps at least one bit for the copy index. */
#define PCPU_RING_POS_LIMIT	(UINT64_C(1) << 63)
/* A consumer skips a position that stays uncommitted this long while a
 * later record is committed (see Consumer above). */
#define PCPU_RING_STUCK_NS	UINT64_C(1000000000)
/* Work bounds of one consumer call (see Consumer above). */
#define PCPU__RING_STEPS	64
#define PCPU__RING_TRIES	8

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
 * pcpu_ring_create - a ring with one buffer per CPU copy, in a new memfd
 * whose size is sealed (F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL: no
 * process can resize it or change its seals, so no consumer's mapping can
 * lose its pages).  params NULL means all defaults.  Returns the ring, or
 * NULL with errno EINVAL (sizes not powers of two, page larger than the
 * buffer or than PCPU_RING_MAX_PAGE, buffer larger than
 * PCPU_RING_MAX_BUF, unknown flags), ENOMEM, or a memfd_create(),
 * ftruncate(), fcntl(F_ADD_SEALS) or mmap() error.  MT-safe; not
 * async-signal-safe.  Fork: the child shares the memfd but must not
 * write (see above).
 */
struct pcpu_ring *pcpu_ring_create(const struct pcpu_ring_params *params);

/*
 * pcpu_ring_destroy - unmap and close.  No writer may be active; readers
 * opened with pcpu_ring_reader_open_fd() keep their own mapping.
 * Returns 0, or -1 with errno EINVAL.  Not MT-safe with the ring's
 * writers; not async-signal-safe.
 */
int pcpu_ring_destroy(struct pcpu_ring *r);

/*
 * pcpu_ring_fd - the memfd holding the ring, size sealed (for another
 * process: pass it over a UNIX socket and open a reader with
 * pcpu_ring_reader_open_fd()).  Returns -1 with errno ENOSYS when
 * memfd_create() was refused at creation (seccomp, no TMPFS): the ring
 * then lives in an anonymous shared mapping that only this process and
 * its fork() children see; EINVAL for r NULL.
 * pcpu_ring_mem / pcpu_ring_mem_size - this process's mapping of it
 * (NULL / 0 for r NULL).
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
int pcpu__ring_commit_counted(struct pcpu_ring *r, uint64_t buf, uint64_t o,
			      uint64_t w);

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

			if (PCPU__UNLIKELY((int64_t)(end - tail) >
					   (int64_t)r->buf_size))
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
 * -1 with errno EINVAL: r or rec NULL, or rec is not a pending
 * reservation of r (outside its buffers, not the payload address of a
 * record, already committed, or its space taken by a later lap after the
 * consumer skipped it; see above).  Nothing is written then.  Lock-free:
 * one load of the buffer's reservation word and one compare-and-swap
 * (overwrite mode: and two atomic adds).  MT-safe, async-signal-safe.
 */
static inline int pcpu_ring_commit(struct pcpu_ring *r, void *rec)
{
	uint64_t off, buf, o, cur, pos, w, *h;

	if (PCPU__UNLIKELY(!r || !rec))
		goto bad;
	off = (uint64_t)((char *)rec - r->data) - PCPU_RING_HDR_SIZE;
	if (PCPU__UNLIKELY(off >= (uint64_t)r->nbufs << r->buf_shift ||
			   (off & 7)))
		goto bad;
	h = (uint64_t *)(r->data + off);
	buf = off >> r->buf_shift;
	o = off & (r->buf_size - 1);
	/* The newest position at offset o below the buffer's reservation
	 * end: the only one a pending reservation can have (see above; with
	 * nothing reserved at o yet the subtraction wraps to a position no
	 * header carries).  Relaxed: our reservation happens before this
	 * call, and the word only grows. */
	cur = __atomic_load_n(pcpu_ptr(r->resv, buf), __ATOMIC_RELAXED);
	pos = ((cur - 1 - o) & r->pos_mask & ~(r->buf_size - 1)) + o;
	/* What a pending reservation there holds: its stamp and a length,
	 * no flag.  The compare-and-swap checks that and sets COMMITTED in
	 * one step. */
	w = pcpu__ring_stamp(r->salt, pos) |
	    (__atomic_load_n(&h[0], __ATOMIC_RELAXED) & PCPU_RING_LEN_MASK);
	if (r->flags & PCPU_RING_OVERWRITE)
		return pcpu__ring_commit_counted(r, buf, o, w);
	PCPU__HB_RELEASE(&r->ctl[buf]);
	/* Release: the payload before the flag; pairs with the consumer's
	 * acquire load of word0. */
	if (PCPU__UNLIKELY(!__atomic_compare_exchange_n(&h[0], &w,
				w | PCPU_RING_COMMITTED, 0, __ATOMIC_RELEASE,
				__ATOMIC_RELAXED)))
		goto bad;
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

struct pcpu__ring_cursor;		/* per buffer, private to ring.c */

/* Consumer's handle.  Fields are private. */
struct pcpu_ring_reader {
	char *mem;
	size_t size;
	char *data;
	struct pcpu_ring_ctl *ctl;
	uint64_t buf_size, page_size, salt;
	unsigned int nbufs, flags;
	struct pcpu__ring_cursor *cur;	/* per buffer: position, counts */
	unsigned int next;		/* read_next: first of a tie */
	void *map;			/* open_fd's mapping, or NULL */
	size_t map_size;
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
	uint64_t lost;		/* discarded + overwritten; in discard
				 * mode + corrupt + abandoned */
	uint64_t corrupt;	/* regions skipped at an inconsistent header
				 * (each at least one record) */
	uint64_t abandoned;	/* positions skipped after PCPU_RING_STUCK_NS
				 * without a commit (each at least one) */
};

/*
 * pcpu_ring_reader_open_fd - a consumer on the ring in memfd fd (from
 * pcpu_ring_fd(), passed over a UNIX socket or inherited), for a consumer
 * in another process than the writers.  Checks that the file's size is
 * sealed (F_SEAL_SHRINK and F_SEAL_GROW, so that no writer can truncate
 * it under the mapping), then its size with fstat(), maps the ring's
 * size (from its header, at most the file's) MAP_SHARED read-write (the
 * consumer publishes its position there) and opens it as
 * pcpu_ring_reader_open() does; pcpu_ring_reader_close() unmaps it.  fd stays the caller's (it may be closed after the call).
 * Returns 0, or -1 with errno EINVAL (rd NULL, or fd not a regular
 * file), EBADF (fd not open), EPERM (the size is not sealed, or the file
 * cannot be sealed: not a memfd), EBADMSG (not a ring, or inconsistent
 * geometry), ENOMEM, or an mmap() error (EACCES: fd not open for reading
 * and writing).  MT-safe (on distinct readers); not async-signal-safe.
 * Fork: the child inherits the mapping and the reader; only one of the
 * two may go on reading (one reader per ring).
 */
int pcpu_ring_reader_open_fd(struct pcpu_ring_reader *rd, int fd);

/*
 * pcpu_ring_reader_open - a consumer on the mapping [mem, mem + size) of
 * a ring, MAP_SHARED, PROT_READ | PROT_WRITE, 64-byte aligned.  Checks
 * the magic, version and geometry against size, copies them, and starts
 * at the tail the previous reader left (an invalid one is moved to the
 * next page start and counted in `corrupt`).  It cannot check that the
 * mapping stays backed: use it on this process's pcpu_ring_mem(), or on
 * a mapping of a file whose size nobody else can change.  For a ring
 * made by another process use pcpu_ring_reader_open_fd(): a peer that
 * truncates an unsealed file under a mapping kills its reader with
 * SIGBUS.  The mapping stays the caller's.  Returns 0, or -1 with errno
 * EINVAL (NULL, misaligned or too small), EBADMSG (not a ring, or
 * inconsistent geometry) or ENOMEM.  MT-safe (on distinct readers); not
 * async-signal-safe.  Fork: as pcpu_ring_reader_open_fd().
 */
int pcpu_ring_reader_open(struct pcpu_ring_reader *rd, void *mem,
			  size_t size);

/*
 * pcpu_ring_reader_close - free the reader's memory, and unmap the
 * mapping if pcpu_ring_reader_open_fd() made it.  rd may be NULL or
 * already closed.  Not MT-safe on the same reader; not
 * async-signal-safe.
 */
void pcpu_ring_reader_close(struct pcpu_ring_reader *rd);

/* Number of per-CPU buffers (valid after open; 0 for NULL or closed).
 * MT-safe, async-signal-safe. */
unsigned int pcpu_ring_reader_nbufs(const struct pcpu_ring_reader *rd);

/*
 * pcpu_ring_read - the next record of buffer cpu: copies the payload into
 * data (cap bytes) and fills *e.  Returns 1; 0 when no committed record
 * is available now (also after the call's bounded work: skipped padding
 * or damage, or writers that overran every copy it tried; the progress
 * is kept, call again); or -1 with errno EINVAL (bad arguments) or
 * EMSGSIZE (cap < e->len: nothing consumed, e->len says how much is
 * needed; a cap of PCPU_RING_MAX_PAGE - PCPU_RING_HDR_SIZE never gets
 * it).  Damaged regions are skipped and counted (corrupt, abandoned), not
 * reported as errors.  Never returns a torn or uncommitted record of an
 * undamaged ring.  Concurrent with writers; one reader per ring, used by
 * one thread at a time; not async-signal-safe.
 */
int pcpu_ring_read(struct pcpu_ring_reader *rd, unsigned int cpu,
		   struct pcpu_ring_entry *e, void *data, size_t cap);

/*
 * pcpu_ring_read_next - the next record of all buffers merged by
 * timestamp (the oldest of the buffers' next records; equal timestamps in
 * turn, starting after the buffer read last).  Same returns as
 * pcpu_ring_read(); on EMSGSIZE e->cpu says which buffer.  Same
 * attributes.
 */
int pcpu_ring_read_next(struct pcpu_ring_reader *rd,
			struct pcpu_ring_entry *e, void *data, size_t cap);

/*
 * pcpu_ring_reader_stats - counts of buffer cpu (see pcpu_ring_stats):
 * this reader's own counts, and the writers' counters as found in shared
 * memory (exact once writers are quiescent and the reader has drained).
 * Returns 0, or -1 with errno EINVAL.  Same attributes as the reads.
 */
int pcpu_ring_reader_stats(struct pcpu_ring_reader *rd, unsigned int cpu,
			   struct pcpu_ring_stats *st);

#ifdef __cplusplus
}
#endif

#endif /* PERCPU_RING_H */
