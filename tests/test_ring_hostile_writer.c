// SPDX-License-Identifier: MIT
/*
 * A hostile writer can keep one consumer call busy for a bounded number
 * of steps only, and cannot make it misread where it starts:
 *
 *  - moving page words: a writer that marks the page the reader is
 *    copying from as overwritten by a newer lap, during every copy, and
 *    offers the next page (a SIGSEGV handler on a protected page of the
 *    reader's own mapping plays that writer, so it happens every time,
 *    not by luck of scheduling).  pcpu_ring_read() gives up after a few
 *    copies and returns 0 (it would otherwise go on for as long as the
 *    writer does: here 10000 times, then the writer stops);
 *  - padding: a buffer of 1023 padding records before one record: each
 *    call examines a bounded number of headers, keeps its progress, and
 *    a later call returns the record (before: one call walked them all,
 *    which for a 16 GiB buffer of 64-byte pages is 2^28 steps);
 *  - odd tail: a tail left odd in the control block (before: taken as
 *    is, every header load misaligned, and no record was ever read
 *    again) is moved to the next page start and counted, the records
 *    from there are read, and so are later ones;
 *  - positions out of range: a tail beyond any position a writer can
 *    reach (before: nothing was read again) is not believed, nor a write
 *    position out of range (the reader keeps the last good one);
 *  - scribbles after open: the tail, consumed, discarded and written
 *    words of the control block changed after open do not move the
 *    reader, and the stats stay sane (no negative difference, no
 *    wrapped sum);
 *  - equal timestamps: buffers whose records carry the same stamp
 *    (PCPU_RING_NO_CLOCK) are read in turn, not one until it is empty.
 */
#include "ring_util.h"

#include <signal.h>
#include <stdint.h>
#include <sys/mman.h>

#define CAP	10000		/* lap moves of the hostile handler */

static struct pcpu_ring_shared *shared(void *mem)
{
	return mem;
}

static struct pcpu_ring_ctl *ctl_of(void *mem, unsigned int c)
{
	return (struct pcpu_ring_ctl *)((char *)mem + shared(mem)->ctl_off) + c;
}

static uint64_t *hdr_of(void *mem, unsigned int c, uint64_t pos)
{
	struct pcpu_ring_shared *sh = shared(mem);

	return (uint64_t *)((char *)mem + sh->data_off + c * sh->buf_size +
			    (pos & (sh->buf_size - 1)));
}

/* A forged header at pos: what a writer would have written. */
static void forge(void *mem, unsigned int c, uint64_t pos, uint64_t flags_len)
{
	uint64_t *h = hdr_of(mem, c, pos);

	h[1] = 0;
	__atomic_store_n(&h[0], pcpu__ring_stamp(shared(mem)->salt, pos) |
			 flags_len, __ATOMIC_RELEASE);
}

static void write_n(struct pcpu_ring *r, uint64_t from, uint64_t n)
{
	for (uint64_t v = from; v < from + n; v++)
		CHECK(pcpu_ring_write(r, &v, sizeof(v)) == 0, "write: %s",
		      strerror(errno));
}

static long read_all(struct pcpu_ring_reader *rd, unsigned int c,
		     uint64_t *first)
{
	struct pcpu_ring_entry e;
	uint64_t v;
	long n = 0;

	while (pcpu_ring_read(rd, c, &e, &v, sizeof(v)) == 1 && n < 100000) {
		if (!n && first)
			*first = v;
		n++;
	}
	return n;
}

/* ---- moving page words ----------------------------------------------- */

#define MH_BUF	(1 << 16)
#define MH_PAGE	(1 << 14)
#define MH_LEN	8192		/* payload over the 2nd 4 KiB */

static struct {
	void *wmem;		/* the writer's mapping */
	char *rmem;		/* the reader's mapping (protected pages) */
	size_t size;
	uint64_t cur;		/* position of the record offered now */
	long moves, faults;
} mh;

static uint64_t *page_word(void *mem, unsigned int c, uint64_t pos)
{
	struct pcpu_ring_shared *sh = shared(mem);
	uint64_t npages = sh->buf_size / sh->page_size;

	return (uint64_t *)((char *)mem + sh->page_off) + c * npages +
	       (pos & (sh->buf_size - 1)) / sh->page_size;
}

/* Second 4 KiB of the ring page holding pos, in the reader's mapping. */
static char *mh_guard(uint64_t pos)
{
	return (char *)hdr_of(mh.rmem, 0, pos & ~(uint64_t)(MH_PAGE - 1)) +
	       4096;
}

/* The writer's record at mh.cur: its page says its lap, wpos covers it,
 * and its second 4 KiB faults in the reader's mapping. */
static void mh_offer(void)
{
	forge(mh.wmem, 0, mh.cur, PCPU_RING_COMMITTED | MH_LEN);
	__atomic_store_n(page_word(mh.wmem, 0, mh.cur), mh.cur / MH_BUF + 1,
			 __ATOMIC_RELEASE);
	__atomic_store_n(&ctl_of(mh.wmem, 0)->wpos, mh.cur + MH_PAGE,
			 __ATOMIC_RELEASE);
	mprotect(mh_guard(mh.cur), 4096, PROT_NONE);
}

static void mh_fault(int sig, siginfo_t *si, void *uc)
{
	char *a = si->si_addr;

	(void)uc;
	if (a < mh.rmem || a >= mh.rmem + mh.size) {
		signal(sig, SIG_DFL);	/* not ours: crash as it would */
		return;
	}
	mh.faults++;
	mprotect((void *)((uintptr_t)a & ~(uintptr_t)4095), 4096,
		 PROT_READ | PROT_WRITE);
	if (mh.moves >= CAP)
		return;
	/* While the reader copies: its page now holds a newer lap, and the
	 * next page has a record. */
	__atomic_store_n(page_word(mh.wmem, 0, mh.cur), mh.cur / MH_BUF + 2,
			 __ATOMIC_RELEASE);
	mh.cur += MH_PAGE;
	mh_offer();
	mh.moves++;
}

static void moving_lap(void)
{
	struct pcpu_ring *r = t_ring_create(MH_BUF, MH_PAGE, PCPU_RING_OVERWRITE);
	static char out[MH_LEN];
	struct pcpu_ring_reader rd;
	struct pcpu_ring_entry e;
	struct sigaction sa, old;
	int ret;

	if (pcpu_ring_fd(r) < 0) {
		printf("moving page words: no memfd here, skipped\n");
		pcpu_ring_destroy(r);
		return;
	}
	mh.wmem = pcpu_ring_mem(r);
	mh.size = pcpu_ring_mem_size(r);
	mh.rmem = mmap(NULL, mh.size, PROT_READ | PROT_WRITE, MAP_SHARED,
		       pcpu_ring_fd(r), 0);
	CHECK(mh.rmem != MAP_FAILED, "mmap: %s", strerror(errno));
	if (mh.rmem == MAP_FAILED)
		return;
	CHECK(pcpu_ring_reader_open(&rd, mh.rmem, mh.size) == 0, "open");
	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = mh_fault;
	sa.sa_flags = SA_SIGINFO;
	sigaction(SIGSEGV, &sa, &old);
	mh.cur = 0;
	mh_offer();
	ret = pcpu_ring_read(&rd, 0, &e, out, sizeof(out));
	sigaction(SIGSEGV, &old, NULL);
	printf("moving page words: one pcpu_ring_read(), expected to give up "
	       "within 64 copies: copied %ld times while the writer moved "
	       "the lap %ld times, returned %d\n", mh.faults, mh.moves, ret);
	CHECK(mh.moves < CAP && mh.faults <= 64,
	      "the call must give up after a bounded number of copies "
	      "(%ld copies)", mh.faults);
	CHECK(ret == 0, "a call that gave up returns 0 (got %d)", ret);
	pcpu_ring_reader_close(&rd);
	munmap(mh.rmem, mh.size);
	pcpu_ring_destroy(r);
}

/* ---- the others ------------------------------------------------------- */

static void padding(void)
{
	struct pcpu_ring *r = t_ring_create(1 << 16, 64, 0);
	void *m = pcpu_ring_mem(r);
	struct pcpu_ring_reader rd;
	struct pcpu_ring_entry e;
	unsigned int pages = (1 << 16) / 64, calls = 0, c = 0;
	uint64_t v = 0;
	int ret = 0;

	for (unsigned int k = 0; k < pages - 1; k++)
		forge(m, c, (uint64_t)k * 64, PCPU_RING_COMMITTED |
		      PCPU_RING_PAD | 64);
	*(uint64_t *)(hdr_of(m, c, (uint64_t)(pages - 1) * 64) + 2) = 77;
	forge(m, c, (uint64_t)(pages - 1) * 64, PCPU_RING_COMMITTED | 8);
	/* The forger's write position: all of it written. */
	ctl_of(m, c)->wpos = (uint64_t)pages * 64;
	CHECK(pcpu_ring_reader_open(&rd, m, pcpu_ring_mem_size(r)) == 0,
	      "open");
	while (calls < 10 * pages && (ret = pcpu_ring_read(&rd, c, &e, &v,
							  sizeof(v))) == 0)
		calls++;
	calls++;
	printf("padding: %u padding records, then the record (expected 77, "
	       "got %llu) on call %u (expected > 1: bounded work per call)\n",
	       pages - 1, (unsigned long long)v, calls);
	CHECK(ret == 1 && v == 77, "the record after the padding");
	CHECK(calls > 1, "one call walked all %u padding records", pages - 1);
	pcpu_ring_reader_close(&rd);
	pcpu_ring_destroy(r);
}

static void bad_tail(const char *what, uint64_t tail, long want_first_page)
{
	struct pcpu_ring *r = t_ring_create(1 << 14, 1024, 0);
	void *m = pcpu_ring_mem(r);
	struct pcpu_ring_reader rd;
	struct pcpu_ring_stats st;
	unsigned int c = t_pin_buf(0);
	uint64_t first = 0, t;
	long n, later;

	write_n(r, 0, 100);	/* 42 a page: pages 0, 1, 2 */
	ctl_of(m, c)->tail = tail;
	CHECK(pcpu_ring_reader_open(&rd, m, pcpu_ring_mem_size(r)) == 0,
	      "open");
	n = read_all(&rd, c, &first);
	t = __atomic_load_n(&ctl_of(m, c)->tail, __ATOMIC_RELAXED);
	write_n(r, 100, 100);
	later = read_all(&rd, c, NULL);
	pcpu_ring_reader_stats(&rd, c, &st);
	printf("%s %#llx: read %ld from record %llu on (expected %ld from "
	       "%ld), then %ld of 100 more; corrupt %llu; tail now %#llx\n",
	       what, (unsigned long long)tail, n, (unsigned long long)first,
	       100 - 42 * want_first_page, 42 * want_first_page, later,
	       (unsigned long long)st.corrupt, (unsigned long long)t);
	CHECK(n == 100 - 42 * want_first_page &&
	      first == (uint64_t)(42 * want_first_page),
	      "%s: read %ld records from %llu", what, n,
	      (unsigned long long)first);
	CHECK(later == 100 && st.corrupt == 1 && !(t & 7),
	      "%s: later %ld, corrupt %llu, tail %#llx", what, later,
	      (unsigned long long)st.corrupt, (unsigned long long)t);
	pcpu_ring_reader_close(&rd);
	pcpu_ring_destroy(r);
}

/* A write position out of range, or gone backwards, is not believed:
 * the reader keeps the last good one. */
static void bad_wpos(void)
{
	struct pcpu_ring *r = t_ring_create(1 << 14, 1024, 0);
	void *m = pcpu_ring_mem(r);
	struct pcpu_ring_reader rd;
	struct pcpu_ring_entry e;
	unsigned int c = t_pin_buf(0);
	uint64_t good, v;
	long first = 0, rest, after, later;

	write_n(r, 0, 100);
	good = ctl_of(m, c)->wpos;
	CHECK(pcpu_ring_reader_open(&rd, m, pcpu_ring_mem_size(r)) == 0,
	      "open");
	while (first < 50 && pcpu_ring_read(&rd, c, &e, &v, sizeof(v)) == 1)
		first++;
	ctl_of(m, c)->wpos = UINT64_MAX - 7;
	rest = read_all(&rd, c, NULL);
	ctl_of(m, c)->wpos = 8;		/* backwards */
	after = read_all(&rd, c, NULL);
	ctl_of(m, c)->wpos = good;
	write_n(r, 100, 100);
	later = read_all(&rd, c, NULL);
	printf("wpos %#llx, then 8: expected 50 + 50 read, then 0, then 100 "
	       "more: read %ld + %ld, then %ld, then %ld\n",
	       (unsigned long long)(UINT64_MAX - 7), first, rest, after, later);
	CHECK(first == 50 && rest == 50 && after == 0 && later == 100,
	      "a write position out of range");
	pcpu_ring_reader_close(&rd);
	pcpu_ring_destroy(r);
}

static void scribbles(void)
{
	struct pcpu_ring *r = t_ring_create(1 << 14, 1024, PCPU_RING_OVERWRITE);
	void *m = pcpu_ring_mem(r);
	struct pcpu_ring_reader rd;
	struct pcpu_ring_stats st;
	unsigned int c = t_pin_buf(0);
	struct pcpu_ring_ctl *k = ctl_of(m, c);
	long n;

	CHECK(pcpu_ring_reader_open(&rd, m, pcpu_ring_mem_size(r)) == 0,
	      "open");
	write_n(r, 0, 100);
	k->tail = 5;
	k->consumed = UINT64_MAX / 2;
	k->discarded = UINT64_MAX;
	k->written = 0;
	n = read_all(&rd, c, NULL);
	pcpu_ring_reader_stats(&rd, c, &st);
	printf("scribbles: expected 100 read, %ld; stats consumed %llu "
	       "written %llu overwritten %llu discarded %#llx lost %#llx\n", n,
	       (unsigned long long)st.consumed, (unsigned long long)st.written,
	       (unsigned long long)st.overwritten,
	       (unsigned long long)st.discarded, (unsigned long long)st.lost);
	CHECK(n == 100, "scribbles moved the reader");
	CHECK(st.overwritten <= st.written && st.lost >= st.discarded &&
	      st.lost >= st.overwritten, "absurd stats");
	pcpu_ring_reader_close(&rd);
	pcpu_ring_destroy(r);
}

static void ties(void)
{
	struct pcpu_ring *r = t_ring_create(1 << 14, 1024, PCPU_RING_NO_CLOCK);
	struct pcpu_ring_reader rd;
	struct pcpu_ring_entry e;
	unsigned int a, b, prev = ~0u, turns = 0, n = 0;
	uint64_t v;

	a = t_pin_buf(0);
	write_n(r, 0, 10);
	b = t_pin_buf(1);
	write_n(r, 0, 10);
	t_pin_buf(0);
	if (a == b) {
		printf("ties: CPUs 0 and 1 share copy %u, skipped\n", a);
		pcpu_ring_destroy(r);
		return;
	}
	CHECK(pcpu_ring_reader_open(&rd, pcpu_ring_mem(r),
				    pcpu_ring_mem_size(r)) == 0, "open");
	while (pcpu_ring_read_next(&rd, &e, &v, sizeof(v)) == 1) {
		turns += n && e.cpu != prev;
		prev = e.cpu;
		n++;
	}
	printf("ties: %u records with stamp 0 from buffers %u and %u, "
	       "buffer changed %u times (expected 19)\n", n, a, b, turns);
	CHECK(n == 20 && turns == 19, "equal stamps must be read in turn");
	pcpu_ring_reader_close(&rd);
	pcpu_ring_destroy(r);
}

int main(void)
{
	t_init(NULL);
	t_pin_buf(0);
	moving_lap();
	padding();
	bad_tail("odd tail", 3, 1);
	bad_tail("tail", (UINT64_C(1) << 63) + 64, 0);
	bad_wpos();
	scribbles();
	if (t_ncpus() > 1)
		ties();
	else
		printf("ties: one CPU, skipped\n");
	return t_done();
}
