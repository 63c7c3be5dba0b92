/* SPDX-License-Identifier: MIT */
/*
 * percpu/ring.h - per-CPU ring buffers for variable-size records.
 *
 * The tracing case (the kernel's ring_buffer.c and LTTng's lib ring
 * buffer are the models): many threads write records, one consumer reads
 * them, possibly from another process, possibly asleep until they come.
 *
 * Layout.  One buffer of buf_size bytes per copy index (pcpu_nr_copies(),
 * the spare copy included), cut into pages of page_size bytes; a record
 * never crosses a page.  The buffers, one control block per buffer, one
 * word per page and a wake-up block live in one memfd mapping
 * (pcpu_ring_fd()), its size sealed, so that another process can map it
 * and read.  A record is a 16-byte header and the payload, padded to 8
 * bytes:
 *
 *	word0:  stamp46 << 18 | COMMITTED | PAD | len   (len < 2^16)
 *	word1:  the record's 64-bit timestamp (TSC on x86)
 *
 * where stamp46 is the top 46 bits of ((position >> 3) ^ salt) * K (K odd),
 * position is the record's absolute byte offset in its buffer's stream
 * and salt a random number chosen at creation.  The consumer accepts the
 * header at position p only if it carries stamp46(p), so stale bytes of
 * an earlier lap are not taken for a record: a stale word passes with
 * probability 2^-46, and the hash keeps structured payloads (counters,
 * arithmetic patterns) from lining up with the stamps of neighbouring
 * positions.  A padding record (PAD, len = the rest of the page) ends a
 * page that the next record does not fit.
 *
 * The write position.  Each buffer's control block holds wpos, the
 * position below which every record has been written (a reservation's
 * header included), in the shared mapping: the consumer reads up to wpos
 * and never looks beyond it.  Only critical sections of cs.h (restartable
 * sequences of that buffer's CPU, or the locked implementation) change
 * it, so buffer = the copy index the sequence runs on (cs.cpu), and the
 * commit of each sequence is the store of wpos:
 *
 *	pcpu_ring_write(), one sequence:
 *	    if (wpos != W) fail;
 *	    copy the header (COMMITTED) and the payload to W;
 *	    wpos = W + size;				(commit)
 *	pcpu_ring_reserve(), one sequence:
 *	    if (wpos != W) fail;
 *	    resv[page] = lap + 1;			(the page has reservations)
 *	    copy the header (not COMMITTED) to W;
 *	    wpos = W + size;				(commit)
 *	pcpu_ring_commit(), any thread: compare-and-swap of the header's
 *	    word0 from exactly "stamp, length" to "stamp, COMMITTED, length".
 *
 * An attempt that is preempted, migrated or interrupted by a signal is
 * restarted as a whole: nothing it copied is below wpos, so nobody ever
 * sees it, and a writer preempted inside pcpu_ring_write() holds no
 * space.  The timestamp is read after wpos and before the sequence, whose
 * compare fails if anything was written meanwhile: within one buffer,
 * timestamps follow positions (with a monotonic, synchronized TSC).
 *
 * Pages.  A page is entered once per lap, by a sequence that moves wpos
 * from the page start W to W + 1 (the low bit: "entered, empty"; records
 * start at W) and stores lap + 1 in the page's word (pages[]): the lap the
 * page's bytes belong to.  Before that the entering writer makes sure no
 * reservation of the page's previous contents is still pending: if its
 * resv[] word says reservations were made on that lap, it walks that
 * lap's headers (each carries its stamp) and, on a pending one, steps
 * over the page instead: another sequence moves wpos to W + page_size and
 * leaves pages[] as it was.  So a pending reservation's space is never
 * reused, in either mode, whatever its writer does; a reservation never
 * committed costs its page for good.  Its writer can commit late: commit
 * finds the record's lap in pages[] (the page was not entered since), and
 * its payload stores never land on newer records.  An entry or step
 * attempt that aborts after its try-store is undone by the sequence that
 * finally moves wpos from W, since each stores its own value (entry: the
 * new lap, step: the value it read) before its commit: pages[] holds the
 * value of the committed one.  A record that does not fit the rest of a
 * page is preceded by a padding record, a sequence of its own (try-store
 * of the padding header, commit wpos = page end).
 *
 * Modes.  Discard (default): a writer whose record does not fit below
 * limit drops it and counts it in `discarded`.  limit is the consumer's
 * tail + buf_size, cached in the writers' line of the control block and
 * read again from the consumer's line only when a record would pass it:
 * the writers look at the consumer's progress about once per page it
 * publishes, not per record.  Overwrite (PCPU_RING_OVERWRITE, flight
 * recorder): writers run over the oldest pages, stepping over a page that
 * holds a pending reservation; a write fails (counted in `discarded`)
 * only when every page of a lap had to be stepped over.  Records lost to
 * overwriting are written - consumed, written being counted at each
 * write and commit in the writers' line (a sequence of the buffer's CPU,
 * or an atomic add from elsewhere).
 *
 * Memory order, each barrier with its pair:
 *  - the commit of every sequence that moves wpos is a store-release
 *    (the _release sequences), paired with the consumer's acquire load of
 *    wpos: a position below wpos has its header and payload visible;
 *  - pcpu_ring_commit()'s compare-and-swap is a release, paired with the
 *    consumer's acquire load of word0 (and of the entering writer's walk:
 *    a committed reservation's payload stores are done before the next
 *    lap writes there);
 *  - the consumer publishes tail with a store-release after its copies,
 *    paired with the writers' acquire load of tail when they refresh
 *    limit: space is reused only after the copies out of it;
 *  - overwrite mode, seqlock per page: after the entering sequence (its
 *    try-store of pages[] comes before its commit) the entering writer
 *    runs a release fence, before any record store of the new lap; its
 *    pair is the consumer's acquire fence between its copy of a record
 *    and its reload of pages[].  So a consumer that sees any byte of the
 *    new lap sees the new lap in pages[]: it copies a record, fences, and
 *    keeps the copy only if pages[] still names the record's lap.  (The
 *    address dependency of the records on wpos is not enough: on arm64
 *    the writer's load of its own stlr of wpos orders nothing for other
 *    observers.  A record written there by another thread of the CPU
 *    comes after the scheduler's or signal delivery's locks.);
 *  - sleeping: a writer loads `waiters` right after its commit with no
 *    fence; the consumer stores it and runs
 *    membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED) before it looks at the
 *    buffers one last time and sleeps.  That barrier runs on every CPU
 *    that runs the writers' process (registered at creation): a writer
 *    whose load came before it has its commit visible to the consumer's
 *    last look, one whose load came after it sees `waiters` set.  Where
 *    the barrier is refused the consumer sleeps at most
 *    PCPU__RING_POLL_NS at a time instead.
 *
 * Sleeping consumer.  pcpu_ring_wait() blocks on a futex word in the
 * shared mapping (FUTEX_WAIT without FUTEX_PRIVATE_FLAG, so it works
 * across processes that map the memfd) until a record can be read or a
 * timeout passes.  A writer's only cost while nobody waits is the load of
 * `waiters`, a word written only when a consumer goes to sleep or wakes;
 * a writer that finds it set (and, with min_bytes, enough unread data)
 * clears it and makes the wake-up system call, so one wake per sleep.
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
 *    seals, that the file is on shmem (hugetlbfs takes the seals but
 *    still punches holes) and the size (fstat); it unmaps it at close.  The older
 *    pcpu_ring_reader_open() takes a pointer it cannot check: use it on
 *    this process's pcpu_ring_mem(), or on a mapping of a file whose
 *    size nobody else can change; a peer that truncates an unsealed file
 *    under it kills the reader with SIGBUS, and nothing here can stop
 *    that.
 *  - Every word read from the mapping is treated as hostile, and read
 *    in one place (ring.c): the geometry once at open (copied, never
 *    re-read), the tail and counts the previous reader left once at open
 *    (the reader then keeps its own positions), wpos, the page words and
 *    record headers at every use.  A position must be 8-aligned and below
 *    PCPU_RING_POS_LIMIT; an offset is masked into its buffer; a length
 *    must fit its page and end at or below wpos.
 *  - A damaged region costs the records in it, not the buffer.  A header
 *    below wpos that does not carry its position's stamp, or is
 *    inconsistent (a length that leaves the page or passes wpos, a
 *    padding record that does not end the page), is skipped with the
 *    rest of its page: records never cross a page, so the next page
 *    start is a resynchronization point.  Counted in `corrupt`.  (A page
 *    start without its stamp whose page word says the page was stepped
 *    over is no damage: nothing was written there on that lap.)
 *  - A position below wpos whose record stays uncommitted (an abandoned
 *    reservation, or a header whose commit flag was damaged) is skipped
 *    once the reader has seen it so for PCPU_RING_STUCK_NS.  Counted in
 *    `abandoned`.  Its writer is not told; a late commit still succeeds,
 *    and the record is not read.
 *  - Every loop is bounded: a call examines at most PCPU__RING_STEPS
 *    positions per buffer and copies at most PCPU__RING_TRIES times; then
 *    it returns 0 ("none now") with its progress kept, and the next call
 *    goes on from there.
 *  - pcpu_ring_read_next() orders buffers by the writers' timestamps,
 *    ties taken in turn: a writer that stamps its records in the past is
 *    read first for as long as it writes them.  A consumer that must be
 *    fair to the other buffers against such a writer reads each buffer
 *    with pcpu_ring_read().
 *
 * The consumer publishes its tail (and `consumed`) once per page it
 * finishes, and whenever it has read all there is: a reader that closes
 * publishes everything; one that dies may leave up to a page per buffer
 * that the next reader returns again.  One reader per ring at a time.
 *
 * Fork: the child shares the memfd mapping, write positions included,
 * but not the locks of the locked implementation nor the resv[] words:
 * it must not write to the parent's ring (it creates its own).
 */
#ifndef PERCPU_RING_H
#define PERCPU_RING_H

#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "ops.h"
#include "cs.h"
#include "lock.h"

#ifdef __cplusplus
extern "C" {
#endif

#define PCPU_RING_OVERWRITE	0x1u	/* flight recorder mode */
#define PCPU_RING_NO_CLOCK	0x2u	/* timestamps are 0 (no merge order) */

#define PCPU_RING_MAGIC		UINT64_C(0x31474e5255504350)	/* "PCPURNG1" */
#define PCPU_RING_VERSION	2
#define PCPU_RING_HDR_SIZE	16
#define PCPU_RING_COMMITTED	(UINT64_C(1) << 17)
#define PCPU_RING_PAD		(UINT64_C(1) << 16)
#define PCPU_RING_LEN_MASK	((UINT64_C(1) << 16) - 1)
#define PCPU_RING_STAMP_SHIFT	18
#define PCPU_RING_MIN_PAGE	64
#define PCPU_RING_MAX_PAGE	65536
#define PCPU_RING_MAX_BUF	(UINT64_C(1) << 34)
#define PCPU_RING_MAX_BUFS	65536
/* Positions (byte offsets in a buffer's stream) stay below this, so
 * that the difference of two is a signed 64-bit number. */
#define PCPU_RING_POS_LIMIT	(UINT64_C(1) << 63)
/* A consumer skips a position that stays uncommitted this long (see
 * Consumer above). */
#define PCPU_RING_STUCK_NS	UINT64_C(1000000000)
/* Work bounds of one consumer call (see Consumer above). */
#define PCPU__RING_STEPS	64
#define PCPU__RING_TRIES	8
/* A sleeping consumer whose wake-up barrier is refused looks again
 * after this long at the latest. */
#define PCPU__RING_POLL_NS	UINT64_C(1000000)

/* The consumer's wake-up, at offset 128 of the mapping, a line of its
 * own: written by a consumer that goes to sleep and by the writer that
 * wakes it, read by every writer after every commit. */
struct pcpu_ring_wake {
	uint32_t seq;		/* the futex word: bumped at each wake */
	uint32_t waiters;	/* nonzero: a consumer sleeps, or is about to */
	uint32_t fenced;	/* the writers' process registered for
				 * membarrier GLOBAL_EXPEDITED */
	uint32_t reserved;
	uint64_t min_bytes;	/* wake when a buffer holds this much unread */
	uint64_t pad[5];
};

/* Shared layout, at offset 0 of the mapping. */
struct pcpu_ring_shared {
	uint64_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nbufs;
	uint32_t reserved0;
	uint64_t buf_size;	/* bytes per buffer, power of two */
	uint64_t page_size;	/* power of two, <= buf_size */
	uint64_t salt;
	uint64_t ctl_off;	/* struct pcpu_ring_ctl[nbufs] */
	uint64_t page_off;	/* uint64_t[nbufs * pages per buffer]: for each
				 * page, lap + 1 of the bytes it holds */
	uint64_t data_off;	/* nbufs * buf_size bytes */
	uint64_t total_size;
	uint64_t reserved1[6];
	struct pcpu_ring_wake wake;
};

/* Per-buffer control block: the writers' line and the consumer's line. */
struct pcpu_ring_ctl {
	uint64_t wpos;		/* written below this; low bit: page entered */
	uint64_t limit;		/* discard: write below this (tail + size) */
	uint64_t written;	/* overwrite: records, by this CPU's sequences */
	uint64_t written_remote;/* overwrite: records committed elsewhere */
	uint64_t discarded;	/* records dropped by writers */
	uint64_t pad0[3];
	uint64_t tail;		/* consumer: read up to (published per page) */
	uint64_t consumed;	/* consumer: records returned (with tail) */
	uint64_t pad1[6];
};

/* Writer's handle.  Fields are private; the inline fast paths read them. */
struct pcpu_ring {
	char *data;
	struct pcpu_ring_ctl *ctl;
	uint64_t *pages;		/* shared: lap + 1 of each page */
	intptr_t *resv;			/* private: lap + 1 of each page's
					 * last reservation */
	struct pcpu_ring_wake *wake;
	uint64_t buf_size, page_size, salt, max_len;
	unsigned int buf_shift, page_shift, pages_shift, nbufs, flags;
	int fd;
	void *mem;
	size_t mem_size, resv_size;
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
 * lose its pages).  Registers the process for
 * membarrier(MEMBARRIER_CMD_GLOBAL_EXPEDITED), which a sleeping consumer
 * uses (see above; where refused, consumers poll every millisecond while
 * asleep).  params NULL means all defaults.  Returns the ring, or NULL
 * with errno EINVAL (sizes not powers of two, page larger than the
 * buffer or than PCPU_RING_MAX_PAGE, buffer larger than
 * PCPU_RING_MAX_BUF, unknown flags), ENOMEM, or a memfd_create(),
 * ftruncate(), fcntl(F_ADD_SEALS) or mmap() error.  MT-safe; not
 * async-signal-safe.  Fork: the child shares the memfd but must not
 * write (see above).
 */
struct pcpu_ring *pcpu_ring_create(const struct pcpu_ring_params *params);

/*
 * pcpu_ring_destroy - unmap and close.  No writer may be active; readers
 * opened with pcpu_ring_reader_open_fd() keep their own mapping, readers
 * opened on pcpu_ring_mem() must be closed first.  Returns 0, or -1 with
 * errno EINVAL.  Not MT-safe with the ring's writers; not
 * async-signal-safe.
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
int pcpu__ring_write_slow(struct pcpu_ring *r, const void *data,
			  size_t len);
void *pcpu__ring_reserve_slow(struct pcpu_ring *r, size_t len);
void pcpu__ring_wake(struct pcpu_ring *r, unsigned int buf, int any);
int pcpu__ring_einval(struct pcpu_ring *r);

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

/* Where position pos of buffer buf lives. */
PCPU__INLINE char *pcpu__ring_at(const struct pcpu_ring *r, uint32_t buf,
				 uint64_t pos)
{
	return r->data + ((uint64_t)buf << r->buf_shift) +
	       (pos & (r->buf_size - 1));
}

/*
 * Can a record of rec bytes go at raw (buffer w's wpos) without the slow
 * path: the page is entered (nonzero offset), the record fits the rest
 * of it and ends below the cached limit.  One load beyond wpos.
 */
PCPU__INLINE int pcpu__ring_easy(const struct pcpu_ring *r,
				 const struct pcpu_ring_ctl *w, uint64_t raw,
				 uint64_t rec)
{
	uint64_t pm = r->page_size - 1, pos = raw & ~(uint64_t)7;

	return (raw & pm) && (pos & pm) + rec <= r->page_size &&
	       (int64_t)(pos + rec -
			 __atomic_load_n(&w->limit, __ATOMIC_RELAXED)) <= 0;
}

/*
 * Overwrite mode, after a record is in buffer buf: count it.  cs: the
 * attempt that wrote it (or a fresh one, for a commit); on buf's CPU a
 * restartable add, elsewhere (or if that is interrupted) an atomic add
 * on the other word, so that no add is lost or made twice.
 */
PCPU__INLINE void pcpu__ring_count(struct pcpu_ring *r, struct pcpu_cs cs,
				   unsigned int buf)
{
	if (!(cs.cpu == buf && !PCPU__CS_IS_LOCKED(cs.mode) &&
	      pcpu_cs_addv(&cs, (intptr_t *)&r->ctl[buf].written, 1) ==
	      PCPU_CS_OK))
		__atomic_fetch_add(&r->ctl[buf].written_remote, 1,
				   __ATOMIC_RELAXED);
}

/*
 * After a record is in buffer buf: wake a sleeping consumer.  The load
 * of waiters right after the commit needs no fence: the consumer's
 * membarrier is its pair (see above).
 */
PCPU__INLINE void pcpu__ring_poke(struct pcpu_ring *r, unsigned int buf,
				  int any)
{
	if (PCPU__UNLIKELY(__atomic_load_n(&r->wake->waiters,
					   __ATOMIC_RELAXED)))
		pcpu__ring_wake(r, buf, any);
}

/*
 * pcpu_ring_write - copy a record of len bytes from data into this CPU's
 * buffer: one critical section (check the space, copy header and
 * payload, move the write position), restarted as a whole when
 * preempted, migrated or interrupted, so a writer stopped anywhere in it
 * holds nothing.  Returns 0, or -1 with errno ENOBUFS (no room: discard
 * mode, the consumer is behind; overwrite mode, every page of a lap holds
 * a pending reservation; counted in `discarded`), EMSGSIZE (len >
 * page_size - 16) or EINVAL (r NULL).  No system call, no lock prefix on
 * the rseq and gs backends (the atomic backend takes the copy's lock).
 * MT-safe, async-signal-safe (a handler may write while the thread it
 * interrupted is inside this call or holds a reservation).  Fork: see
 * above.
 */
static inline int pcpu_ring_write(struct pcpu_ring *r, const void *data,
				  size_t len)
{
	struct pcpu_ring_ctl *w;
	uint64_t rec, raw, pos, h[2];
	struct pcpu_cs cs;

	if (PCPU__UNLIKELY(!r || len > r->max_len))
		return pcpu__ring_einval(r);
	/* One attempt inline; anything else (the page to enter, pad or
	 * step over, the space to look up again, a retry) out of line. */
	rec = PCPU_RING_HDR_SIZE + ((len + 7) & ~(uint64_t)7);
	pcpu_cs_begin(&cs);
	w = &r->ctl[cs.cpu];
	raw = __atomic_load_n(&w->wpos, __ATOMIC_RELAXED);
	if (PCPU__LIKELY(pcpu__ring_easy(r, w, raw, rec))) {
		pos = raw & ~(uint64_t)7;
		h[0] = pcpu__ring_word0(r->salt, pos, PCPU_RING_COMMITTED | len);
		h[1] = pcpu__ring_clock(r);
		/* For TSan: the consumer's copies out of this space happen
		 * before (it may live in another process). */
		PCPU__HB_ACQUIRE(w);
		if (PCPU__LIKELY(pcpu_cs_cmpeqv_trymemcpy2_storev_release(&cs,
				(intptr_t *)&w->wpos, (intptr_t)raw,
				pcpu__ring_at(r, cs.cpu, pos), h, sizeof(h),
				data, len, (intptr_t)(pos + rec)) ==
				 PCPU_CS_OK)) {
			if (r->flags & PCPU_RING_OVERWRITE)
				pcpu__ring_count(r, cs, cs.cpu);
			pcpu__ring_poke(r, cs.cpu, 0);
			return 0;
		}
	}
	return pcpu__ring_write_slow(r, data, len);
}

/*
 * pcpu_ring_reserve - space for a record of len bytes in this CPU's
 * buffer, for a payload written in place: one critical section (check
 * the space, write the header of an uncommitted record, move the write
 * position).  Write the payload there, then pcpu_ring_commit() it; until
 * then the consumer stops at it (up to PCPU_RING_STUCK_NS, see above)
 * and writers on that CPU go on after it; its page is not reused while
 * it is pending.  Returns the payload address (8-byte aligned), or NULL
 * with errno as pcpu_ring_write().  No system call, no lock prefix on the
 * rseq and gs backends.  MT-safe and async-signal-safe (a handler may
 * reserve and commit while the thread it interrupted holds a
 * reservation).  Fork: see above.
 */
static inline void *pcpu_ring_reserve(struct pcpu_ring *r, size_t len)
{
	struct pcpu_ring_ctl *w;
	uint64_t rec, raw, pos, h[2], pg;
	struct pcpu_cs cs;
	char *p;

	if (PCPU__UNLIKELY(!r || len > r->max_len)) {
		pcpu__ring_einval(r);
		return NULL;
	}
	rec = PCPU_RING_HDR_SIZE + ((len + 7) & ~(uint64_t)7);
	pcpu_cs_begin(&cs);
	w = &r->ctl[cs.cpu];
	raw = __atomic_load_n(&w->wpos, __ATOMIC_RELAXED);
	if (PCPU__LIKELY(pcpu__ring_easy(r, w, raw, rec))) {
		pos = raw & ~(uint64_t)7;
		h[0] = pcpu__ring_word0(r->salt, pos, len);
		h[1] = pcpu__ring_clock(r);
		p = pcpu__ring_at(r, cs.cpu, pos);
		pg = ((uint64_t)cs.cpu << r->pages_shift) +
		     ((pos & (r->buf_size - 1)) >> r->page_shift);
		PCPU__HB_ACQUIRE(w);
		if (PCPU__LIKELY(
			pcpu_cs_cmpeqv_trystorev_trymemcpy_storev_release(&cs,
				(intptr_t *)&w->wpos, (intptr_t)raw,
				&r->resv[pg],
				(intptr_t)((pos >> r->buf_shift) + 1), p, h,
				sizeof(h), (intptr_t)(pos + rec)) ==
			PCPU_CS_OK))
			return p + PCPU_RING_HDR_SIZE;
	}
	return pcpu__ring_reserve_slow(r, len);
}

/*
 * pcpu_ring_commit - publish the record reserved at rec (the address
 * pcpu_ring_reserve() returned), from any thread or CPU.  Returns 0, or
 * -1 with errno EINVAL: r or rec NULL, or rec is not a pending
 * reservation of r (outside its buffers, not the payload address of a
 * record below the buffer's write position on the lap its page holds,
 * or already committed).  Nothing is written then.  Lock-free: two
 * loads and one compare-and-swap (overwrite mode: and the count).
 * MT-safe, async-signal-safe.
 */
static inline int pcpu_ring_commit(struct pcpu_ring *r, void *rec)
{
	uint64_t off, buf, o, lap1, pos, w, *h;
	struct pcpu_cs cs;

	if (PCPU__UNLIKELY(!r || !rec))
		goto bad;
	off = (uint64_t)((char *)rec - r->data) - PCPU_RING_HDR_SIZE;
	if (PCPU__UNLIKELY(off >= (uint64_t)r->nbufs << r->buf_shift ||
			   (off & 7)))
		goto bad;
	h = (uint64_t *)(r->data + off);
	buf = off >> r->buf_shift;
	o = off & (r->buf_size - 1);
	/* The lap the page's bytes belong to: a page holding a pending
	 * reservation is not entered again (see above), so it is the
	 * reservation's lap.  Relaxed: our reservation happened before
	 * this call, and the word is only changed by writers of buf. */
	lap1 = __atomic_load_n(&r->pages[(buf << r->pages_shift) +
					 (o >> r->page_shift)],
			       __ATOMIC_RELAXED);
	pos = ((lap1 - 1) << r->buf_shift) | o;
	if (PCPU__UNLIKELY(!lap1 || pos >= (__atomic_load_n(&r->ctl[buf].wpos,
						__ATOMIC_RELAXED) &
					    ~(uint64_t)7)))
		goto bad;
	/* What a pending reservation there holds: its stamp and a length,
	 * no flag.  The compare-and-swap checks that and sets COMMITTED in
	 * one step, so a double commit is refused. */
	w = pcpu__ring_stamp(r->salt, pos) |
	    (__atomic_load_n(&h[0], __ATOMIC_RELAXED) & PCPU_RING_LEN_MASK);
	PCPU__HB_RELEASE(&r->ctl[buf]);
	/* Release: the payload before the flag; pairs with the consumer's
	 * acquire load of word0 (and the entering writer's walk). */
	if (PCPU__UNLIKELY(!__atomic_compare_exchange_n(&h[0], &w,
				w | PCPU_RING_COMMITTED, 0, __ATOMIC_RELEASE,
				__ATOMIC_RELAXED)))
		goto bad;
	if (r->flags & PCPU_RING_OVERWRITE) {
		pcpu_cs_begin(&cs);
		pcpu__ring_count(r, cs, (unsigned int)buf);
	}
	pcpu__ring_poke(r, (unsigned int)buf, 1);
	return 0;
bad:
	errno = EINVAL;
	return -1;
}

/* ---- consumer -------------------------------------------------------- */

struct pcpu__ring_cursor;		/* per buffer, private to ring.c */

/* Consumer's handle.  Fields are private. */
struct pcpu_ring_reader {
	char *mem;
	size_t size;
	char *data;
	struct pcpu_ring_ctl *ctl;
	const uint64_t *pages;
	struct pcpu_ring_wake *wake;
	uint64_t buf_size, page_size, salt;
	unsigned int nbufs, flags, buf_shift, page_shift, fenced;
	struct pcpu__ring_cursor *cur;	/* per buffer: position, counts */
	unsigned int next;		/* read_next: first of a tie */
	void *scratch;			/* read_batch: one record */
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
	uint64_t discarded;	/* dropped by writers (full, or busy pages) */
	uint64_t written;	/* overwrite mode: records committed */
	uint64_t overwritten;	/* overwrite mode: written - consumed */
	uint64_t lost;		/* discarded + overwritten; in discard
				 * mode + corrupt + abandoned */
	uint64_t corrupt;	/* regions skipped at an inconsistent header
				 * (each at least one record) */
	uint64_t abandoned;	/* positions skipped after PCPU_RING_STUCK_NS
				 * without a commit (each one record) */
};

/*
 * pcpu_ring_reader_open_fd - a consumer on the ring in memfd fd (from
 * pcpu_ring_fd(), passed over a UNIX socket or inherited), for a consumer
 * in another process than the writers.  Checks that the file's size is
 * sealed (F_SEAL_SHRINK and F_SEAL_GROW, so that no writer can truncate
 * it under the mapping), then its size with fstat(), maps the ring's
 * size (from its header, at most the file's) MAP_SHARED read-write (the
 * consumer publishes its position there) and opens it as
 * pcpu_ring_reader_open() does; pcpu_ring_reader_close() unmaps it.  fd
 * stays the caller's (it may be closed after the call).
 * Also checks that the file is on shmem (fstatfs() f_type TMPFS_MAGIC,
 * as memfd_create() files are): hugetlbfs (MFD_HUGETLB) takes the seals
 * but still lets the writer punch holes, and a reader refaulting one
 * from an exhausted huge page pool dies of SIGBUS.
 * Returns 0, or -1 with errno EINVAL (rd NULL, fd not a regular file, or
 * sealed but not on shmem/tmpfs: a hugetlbfs memfd), EBADF (fd not open),
 * EPERM (the size is not sealed, or the file cannot be sealed: not a
 * memfd), EBADMSG (not a ring, or inconsistent
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
 * SIGBUS.  The mapping stays the caller's, and must outlive the reader.
 * Returns 0, or -1 with errno EINVAL (NULL, misaligned or too small),
 * EBADMSG (not a ring, or inconsistent geometry) or ENOMEM.  MT-safe (on
 * distinct readers); not async-signal-safe.  Fork: as
 * pcpu_ring_reader_open_fd().
 */
int pcpu_ring_reader_open(struct pcpu_ring_reader *rd, void *mem,
			  size_t size);

/*
 * pcpu_ring_reader_close - publish the reader's positions (the next
 * reader starts there), free its memory, and unmap the mapping if
 * pcpu_ring_reader_open_fd() made it.  rd may be NULL or already closed.
 * Not MT-safe on the same reader; not async-signal-safe.
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
 * pcpu_ring_read_batch - up to max records of all buffers, in the order
 * of pcpu_ring_read_next(), each handed to cb(arg, e, data) with its
 * entry and a copy of its payload (valid during the call only; any
 * record fits, so no EMSGSIZE).  A nonzero return from cb stops the
 * batch after that record (it is consumed).  The reader publishes its
 * progress once per page and at the end, as the single reads do; the
 * batch saves their per-call work.  Returns the number of records handed
 * to cb (0: none available now), or -1 with errno EINVAL (rd, cb NULL, or
 * rd not open).  cb must not call the reader.  Same attributes as
 * pcpu_ring_read().
 */
typedef int (*pcpu_ring_cb)(void *arg, const struct pcpu_ring_entry *e,
			    const void *data);
int pcpu_ring_read_batch(struct pcpu_ring_reader *rd, pcpu_ring_cb cb,
			 void *arg, unsigned int max);

/*
 * pcpu_ring_wait - sleep until a record can be read from some buffer, or
 * timeout_ns passes (< 0: no limit; 0: just look).  min_bytes: writers
 * wake the reader only once a buffer holds that many unread bytes (0 or
 * 1: at the first record), which saves them system calls when records
 * are small and many; a commit of a reserved record always wakes.  A
 * position stuck at an uncommitted reservation also ends the sleep when
 * its PCPU_RING_STUCK_NS run out.  Works across processes (a futex word
 * in the shared mapping).  Returns 1 when a record is available (the next
 * read returns it unless writers overwrite it first), 0 on timeout, or -1
 * with errno EINTR (a signal handler ran) or EINVAL.  Same attributes as
 * pcpu_ring_read().
 */
int pcpu_ring_wait(struct pcpu_ring_reader *rd, size_t min_bytes,
		   int64_t timeout_ns);

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
