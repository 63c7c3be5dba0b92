// SPDX-License-Identifier: MIT
/*
 * A damaged record header costs the records of its region, not the
 * buffer, and never the other buffers.  A writer fills CPU A's buffer
 * (discard mode, 1 KiB pages, 42 records a page), another CPU B's; then
 * one header of A's buffer is damaged:
 *
 *  - length: it now leaves the page.  Before, every pcpu_ring_read_next()
 *    failed with EBADMSG from there on, for all CPUs, and A's writers
 *    dropped every record once the buffer was full.  Now the reader skips
 *    to the next page start at once (records never cross a page) and
 *    counts one `corrupt` region, reads all of B and the rest of A, and
 *    A's writers go on: 2000 more records, none dropped;
 *  - a flipped stamp bit: the header looks unwritten although it lies
 *    below the buffer's write position.  Before, the reader waited there
 *    forever (and A's writers dropped); with the first hardening it
 *    waited PCPU_RING_STUCK_NS.  Now that the write position is shared,
 *    a header below it without its stamp is damage: skipped at once to
 *    the next page start, one `corrupt`;
 *  - a cleared commit flag: the header looks uncommitted while later
 *    records are committed.  Before, the reader waited there forever.
 *    Now it waits PCPU_RING_STUCK_NS, then skips to the next record and
 *    counts one `abandoned`;
 *  - a reservation never committed, with later records committed: the
 *    same as the cleared flag; its late commit still succeeds (the space
 *    was not reused) and the reader does not go back for it.
 *
 * Each case prints records written, read and lost, and where the loss was
 * counted; no read may return an error.
 *
 * A record's buffer is the one its address is in.  Pinned to another
 * CPU, the same thread writes to another buffer when copies are indexed
 * by CPU; by mm_cid it may keep its id, and B's records follow A's in
 * A's buffer (newer values, after the damaged page): then they count as
 * A's, and the other buffer is not tested.
 */
#include "ring_util.h"

#include <stdint.h>

#define PAGE	1024
#define BUF	(1 << 14)
#define NREC	100
#define BAD	10		/* index of the damaged record */
#define MORE	2000

struct ring {
	const char *name;
	struct pcpu_ring *r;
	struct pcpu_ring_reader rd;
	uint64_t *hdr[NREC];	/* header of record k */
	unsigned int buf;	/* buffer (copy index) the records went to */
	uint64_t next;		/* next value expected from buf */
	long got, other, errors;
};

static void ring_init(struct ring *t, const char *name)
{
	struct pcpu_ring_params p = { BUF, PAGE, 0 };

	memset(t, 0, sizeof(*t));
	t->name = name;
	t->r = pcpu_ring_create(&p);
	CHECK(t->r != NULL, "create: %s", strerror(errno));
	if (!t->r)
		exit(t_done());
	CHECK(pcpu_ring_reader_open(&t->rd, pcpu_ring_mem(t->r),
				    pcpu_ring_mem_size(t->r)) == 0,
	      "reader_open: %s", strerror(errno));
}

/* The buffer (copy index) that holds address p, from the shared layout. */
static unsigned int buf_of(const struct ring *t, const void *p)
{
	const struct pcpu_ring_shared *sh = pcpu_ring_mem(t->r);

	return (unsigned int)(((const char *)p - (const char *)sh -
			       sh->data_off) / sh->buf_size);
}

/* NREC records base.. on CPU cpu; record `uncommitted` stays reserved.
 * Returns the buffer they went to. */
static unsigned int fill(struct ring *t, unsigned int cpu, uint64_t base,
			 int uncommitted)
{
	unsigned int buf = t_pin_buf(cpu);

	for (int k = 0; k < NREC; k++) {
		uint64_t v = base + (uint64_t)k;
		char *p = pcpu_ring_reserve(t->r, sizeof(v));

		CHECK(p != NULL, "%s: reserve %d: %s", t->name, k,
		      strerror(errno));
		if (!p)
			continue;
		memcpy(p, &v, sizeof(v));
		t->hdr[k] = (uint64_t *)(p - PCPU_RING_HDR_SIZE);
		if (k != uncommitted)
			CHECK(pcpu_ring_commit(t->r, p) == 0, "commit %d", k);
		if (k == 0)
			buf = buf_of(t, p);
		else
			CHECK(buf_of(t, p) == buf, "%s: record %d in buffer %u, "
			      "record 0 in %u", t->name, k, buf_of(t, p), buf);
	}
	return buf;
}

/* Records of record BAD's page from BAD on: what the damage costs when
 * the reader goes on at the next page start. */
static long rest_of_page(const struct ring *t)
{
	uintptr_t page = (uintptr_t)t->hdr[BAD] / PAGE;
	long n = 0;

	for (int k = BAD; k < NREC; k++)
		n += (uintptr_t)t->hdr[k] / PAGE == page;
	return n;
}

/* Reads until none; t->buf's values must increase from t->next. */
static void drain(struct ring *t)
{
	struct pcpu_ring_entry e;
	uint64_t v;
	int ret, calls = 0;

	while ((ret = pcpu_ring_read_next(&t->rd, &e, &v, sizeof(v))) != 0 &&
	       ++calls < 100000) {
		if (ret < 0) {
			if (t->errors++ == 0)
				printf("%s: read_next: %s (buffer %u)\n",
				       t->name, strerror(errno), e.cpu);
			if (t->errors >= 100)
				break;
			continue;
		}
		if (e.cpu != t->buf) {
			t->other++;
			continue;
		}
		CHECK(v >= t->next, "%s: %llu after %llu", t->name,
		      (unsigned long long)v, (unsigned long long)t->next);
		t->next = v + 1;
		t->got++;
	}
}

static void stats(struct ring *t, struct pcpu_ring_stats *st)
{
	CHECK(pcpu_ring_reader_stats(&t->rd, t->buf, st) == 0, "stats");
}

/* The damaged buffer's writers go on: MORE records, none dropped.  By
 * mm_cid this thread may have another id by now (it slept), its records
 * another buffer: then the run says so. */
static void writers_go_on(struct ring *t, unsigned int cpu)
{
	uint64_t v, base = 1000000, dropped = 0;
	long before = t->got, before_other = t->other, moved;
	struct pcpu_ring_stats st;

	t_pin_buf(cpu);
	t->next = base;
	for (v = base; v < base + MORE; v++) {
		if (pcpu_ring_write(t->r, &v, sizeof(v)))
			dropped++;
		if (v % 100 == 99)
			drain(t);
	}
	drain(t);
	stats(t, &st);
	moved = t->other - before_other;
	printf("%s: then %d more written, %llu dropped, %ld read\n", t->name,
	       MORE, (unsigned long long)dropped, t->got - before + moved);
	if (moved && pcpu_index_source() == PCPU_INDEX_CID)
		printf("%s: mm_cid indexing: %ld of them went to another "
		       "buffer than the damaged one (the thread's id "
		       "changed)\n", t->name, moved);
	else
		CHECK(!moved, "%s: %ld records in another buffer, indexed by "
		      "CPU", t->name, moved);
	CHECK(dropped == 0 && t->got - before + moved == MORE,
	      "%s: the writers must go on after the damage", t->name);
}

static void length(unsigned int cpu_a, unsigned int cpu_b)
{
	struct pcpu_ring_stats st;
	struct ring t;
	unsigned int buf_b = 0;
	long lost, in_a = 0;

	ring_init(&t, "length");
	t.buf = fill(&t, cpu_a, 0, -1);
	if (cpu_b != cpu_a) {
		/* B's records are newer: read_next meets A's damage first.
		 * Values after A's, for when they share A's buffer. */
		uint64_t *a_hdr[NREC];

		memcpy(a_hdr, t.hdr, sizeof(a_hdr));
		buf_b = fill(&t, cpu_b, NREC, -1);
		memcpy(t.hdr, a_hdr, sizeof(a_hdr));
		if (buf_b == t.buf) {
			in_a = NREC;
			printf("length: CPU %u's records went to CPU %u's buffer "
			       "%u (one mm_cid on both): the other buffer is "
			       "not tested\n", cpu_b, cpu_a, buf_b);
		}
	}
	/* Stamp and commit flag intact, length far beyond the page. */
	t.hdr[BAD][0] |= PCPU_RING_LEN_MASK;
	lost = rest_of_page(&t);
	drain(&t);
	stats(&t, &st);
	printf("length: written %ld expected = read %ld + %ld lost in %llu "
	       "corrupt region; other CPU's buffer: %ld of %d read; %ld "
	       "errors\n", NREC + in_a, t.got, NREC + in_a - t.got,
	       (unsigned long long)st.corrupt, t.other,
	       cpu_b != cpu_a && buf_b != t.buf ? NREC : 0, t.errors);
	CHECK(t.errors == 0, "length: %ld read errors", t.errors);
	CHECK(t.got == NREC - lost + in_a && st.corrupt == 1 &&
	      st.abandoned == 0, "length: read %ld (want %ld), corrupt %llu "
	      "(want 1)", t.got, NREC - lost + in_a,
	      (unsigned long long)st.corrupt);
	if (cpu_b != cpu_a && buf_b != t.buf)
		CHECK(t.other == NREC, "length: other buffer %ld of %d read",
		      t.other, NREC);
	writers_go_on(&t, cpu_a);
	pcpu_ring_reader_close(&t.rd);
	pcpu_ring_destroy(t.r);
}

/* The damaged stamp (skipped at once) and the cases that are skipped
 * after PCPU_RING_STUCK_NS, run together. */
static void stuck(unsigned int cpu)
{
	struct ring t[3];
	struct pcpu_ring_stats st;
	long want[3];
	double t0, waited[3] = { 0, 0, 0 };
	int done = 0, i;

	ring_init(&t[0], "stamp bit");
	ring_init(&t[1], "commit flag");
	ring_init(&t[2], "never committed");
	for (i = 0; i < 3; i++)
		t[i].buf = fill(&t[i], cpu, 0, i == 2 ? BAD : -1);
	t[0].hdr[BAD][0] ^= UINT64_C(1) << 40;
	t[1].hdr[BAD][0] &= ~PCPU_RING_COMMITTED;
	want[0] = NREC - rest_of_page(&t[0]);
	want[1] = want[2] = NREC - 1;
	t0 = t_now();
	/* Liveness bound only: the skip is due after PCPU_RING_STUCK_NS. */
	while (done != 7 && t_now() - t0 < 10.0 * PCPU_RING_STUCK_NS / 1e9) {
		for (i = 0; i < 3; i++) {
			if (done & (1 << i))
				continue;
			drain(&t[i]);
			stats(&t[i], &st);
			if (st.abandoned || st.corrupt) {
				drain(&t[i]);
				waited[i] = t_now() - t0;
				done |= 1 << i;
			}
		}
		usleep(20000);
	}
	for (i = 0; i < 3; i++) {
		/* The stamp: damage, at once; the others: abandoned after
		 * the bound. */
		uint64_t want_ab = i ? 1 : 0, want_bad = i ? 0 : 1;

		stats(&t[i], &st);
		printf("%s: written %d expected = read %ld + lost %ld, counted "
		       "%llu abandoned + %llu corrupt (expected %llu + %llu) "
		       "after %.2f s (bound for abandoned %.2f s); %ld "
		       "errors\n", t[i].name, NREC, t[i].got, NREC - t[i].got,
		       (unsigned long long)st.abandoned,
		       (unsigned long long)st.corrupt,
		       (unsigned long long)want_ab,
		       (unsigned long long)want_bad, waited[i],
		       PCPU_RING_STUCK_NS / 1e9, t[i].errors);
		CHECK(done & (1 << i), "%s: the reader never went past it",
		      t[i].name);
		CHECK(t[i].got == want[i] && st.abandoned == want_ab &&
		      st.corrupt == want_bad && t[i].errors == 0,
		      "%s: read %ld (want %ld), abandoned %llu, corrupt %llu",
		      t[i].name, t[i].got, want[i],
		      (unsigned long long)st.abandoned,
		      (unsigned long long)st.corrupt);
		/* The reader measures the wait with the same clock. */
		CHECK(!(done & (1 << i)) || !want_ab ||
		      waited[i] >= PCPU_RING_STUCK_NS / 1e9,
		      "%s: skipped after %.3f s, before the bound", t[i].name,
		      waited[i]);
	}
	/* The late commit: the space was not reused, so it succeeds; the
	 * reader has gone past and does not return the record. */
	CHECK(pcpu_ring_commit(t[2].r, t[2].hdr[BAD] + 2) == 0,
	      "late commit: %s", strerror(errno));
	drain(&t[2]);
	CHECK(t[2].got == want[2], "the reader went back for a late commit");
	stats(&t[2], &st);
	CHECK((uint64_t)NREC == st.consumed + st.lost,
	      "never committed: written %d != consumed %llu + lost %llu",
	      NREC, (unsigned long long)st.consumed,
	      (unsigned long long)st.lost);
	writers_go_on(&t[0], cpu);
	for (i = 0; i < 3; i++) {
		pcpu_ring_reader_close(&t[i].rd);
		pcpu_ring_destroy(t[i].r);
	}
}

int main(void)
{
	unsigned int cpu_b = t_ncpus() > 1 ? 1 : 0;

	t_init(NULL);
	if (!cpu_b)
		printf("one CPU: the other buffer is not tested\n");
	length(0, cpu_b);
	stuck(0);
	return t_done();
}
