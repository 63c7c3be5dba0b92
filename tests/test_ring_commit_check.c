// SPDX-License-Identifier: MIT
/*
 * pcpu_ring_commit() takes nothing but a pending reservation of its ring.
 * Refused with EINVAL, and nothing written: pointers into a payload
 * (rec + 8, rec + 32: the case that returned 0, set the commit bit in the
 * payload and, in overwrite mode, added a bogus length to the page's
 * commit count, so that 1875 of the next 2000 writes were dropped), the
 * header's own address, a pointer into an unused part of a buffer, a
 * record of another ring, a record already committed, the same record
 * committed by two threads at once (exactly one of them succeeds).  Then:
 * the payload reads back intact, and in overwrite mode the next 2000
 * writes all go in, and the newest of them read back in order.
 * And a reservation left pending while the writers go round the buffer
 * keeps its space: before, a later lap wrote over it (its header ended
 * up in the middle of a newer record, its commit was refused, and its
 * payload stores would have landed in that record); now its page is
 * stepped over, header and payload stay, and its late commit succeeds.
 */
#include "ring_util.h"

#include <stdint.h>

static long races = 2000;	/* t_scale()d in main */

static int refused(struct pcpu_ring *r, void *p, const char *what)
{
	int ret;

	errno = 0;
	ret = pcpu_ring_commit(r, p);
	CHECK(ret == -1 && errno == EINVAL, "commit of %s: returned %d (%s)",
	      what, ret, strerror(errno));
	return ret == -1;
}

/* Small integers: no flag bit set in any payload word, as in the
 * reviewer's case. */
static void payload(uint64_t *p, int n)
{
	for (int i = 0; i < n; i++)
		p[i] = (uint64_t)i + 1;
}

static void bogus(struct pcpu_ring *r, struct pcpu_ring *other,
		  const char *mode)
{
	struct pcpu_ring_reader rd;
	struct pcpu_ring_entry e;
	uint64_t *rec, *orec, out[8], want[8];
	int ok = 0, n = 0;

	CHECK(pcpu_ring_reader_open(&rd, pcpu_ring_mem(r),
				    pcpu_ring_mem_size(r)) == 0, "reader");
	rec = pcpu_ring_reserve(r, sizeof(want));
	orec = pcpu_ring_reserve(other, sizeof(want));
	CHECK(rec && orec, "reserve: %s", strerror(errno));
	if (!rec || !orec)
		return;
	payload(rec, 8);
	payload(want, 8);
	ok += refused(r, (char *)rec + 32, "rec + 32"), n++;
	ok += refused(r, (char *)rec + 8, "rec + 8"), n++;
	ok += refused(r, (char *)rec - PCPU_RING_HDR_SIZE, "the header"), n++;
	ok += refused(r, (char *)rec + 4096, "unused space"), n++;
	ok += refused(r, orec, "another ring's record"), n++;
	CHECK(pcpu_ring_commit(r, rec) == 0, "commit: %s", strerror(errno));
	ok += refused(r, rec, "a committed record"), n++;
	CHECK(pcpu_ring_commit(other, orec) == 0, "commit other");
	CHECK(pcpu_ring_read_next(&rd, &e, out, sizeof(out)) == 1 &&
	      e.len == sizeof(out), "read the record back");
	printf("%s: bogus commits: %d expected refused, %d observed; payload "
	       "%s\n", mode, n, ok,
	       memcmp(out, want, sizeof(out)) ? "CHANGED" : "intact");
	CHECK(!memcmp(out, want, sizeof(out)), "%s: payload changed", mode);
	pcpu_ring_reader_close(&rd);
}

/* After the bogus commits: overwrite mode's page counts are intact. */
static void overwrite_after(struct pcpu_ring *r)
{
	struct pcpu_ring_reader rd;
	struct pcpu_ring_stats st;
	struct pcpu_ring_entry e;
	unsigned int buf = t_pin_buf(0);
	long dropped = 0, got = 0, gaps = 0;
	uint64_t v, last = 0;

	CHECK(pcpu_ring_reader_open(&rd, pcpu_ring_mem(r),
				    pcpu_ring_mem_size(r)) == 0, "reader");
	for (v = 0; v < 2000; v++)
		dropped += pcpu_ring_write(r, &v, sizeof(v)) != 0;
	/* The newest records, in order, ending at the last write. */
	while (pcpu_ring_read(&rd, buf, &e, &v, sizeof(v)) == 1) {
		gaps += got && v != last + 1;
		last = v;
		got++;
	}
	pcpu_ring_reader_stats(&rd, buf, &st);
	printf("overwrite: 2000 writes after them: expected 0 dropped, %ld "
	       "observed; read the newest %ld, ending at %llu (expected "
	       "1999), %ld gaps; written %llu expected 2001\n", dropped, got,
	       (unsigned long long)last, gaps,
	       (unsigned long long)st.written);
	CHECK(dropped == 0 && st.discarded == 0, "overwrite: %ld dropped",
	      dropped);
	/* Writers run over the oldest page only (ring.h), so every other
	 * page of the buffer still holds its records: here 4096 / 256 - 1
	 * pages of 10 records of 24 bytes. */
	CHECK(got >= (4096 / 256 - 1) * (256 / 24) && got < 2001 &&
	      last == 1999 && !gaps && st.written == 2001,
	      "overwrite accounting: written %llu, want 2001; read %ld, want "
	      "at least %d, ending at 1999", (unsigned long long)st.written,
	      got, (4096 / 256 - 1) * (256 / 24));
	pcpu_ring_reader_close(&rd);
}

static struct {
	struct pcpu_ring *r;
	struct pcpu_ring_reader rd;
	void *rec;
	int arrived, ret[2];
	long both, none;
} race;

/* Both threads leave at once, as far as two spinning CPUs can. */
static void barrier(int *round)
{
	int want = (*round += 2), spins = 0;

	__atomic_fetch_add(&race.arrived, 1, __ATOMIC_ACQ_REL);
	while (__atomic_load_n(&race.arrived, __ATOMIC_ACQUIRE) < want)
		if (++spins % 4096 == 0)
			sched_yield();	/* the other vCPU is away */
}

/* Thread 0 reserves and checks, both commit the same record. */
static void *racer(void *arg)
{
	long id = (long)arg;
	struct pcpu_ring_entry e;
	int round = 0;
	uint64_t v;

	t_pin_buf((unsigned int)id);
	for (long k = 0; k < races; k++) {
		if (id == 0)
			race.rec = pcpu_ring_reserve(race.r, 8);
		barrier(&round);
		race.ret[id] = race.rec ? pcpu_ring_commit(race.r, race.rec)
					: 1;
		barrier(&round);
		if (id == 0) {
			race.both += !race.ret[0] && !race.ret[1];
			race.none += race.ret[0] && race.ret[1];
			while (pcpu_ring_read_next(&race.rd, &e, &v,
						   sizeof(v)) == 1)
				;
		}
	}
	return NULL;
}

/* Two threads commit the same record at the same moment, races times.
 * (Not a regression test: the window the old store left is too narrow
 * to hit on demand; this checks the compare-and-swap.) */
static void double_commit_race(unsigned int flags, const char *mode)
{
	pthread_t th[2];

	race.r = t_ring_create(1 << 16, 1024, flags);
	race.arrived = 0;
	race.both = race.none = 0;
	CHECK(pcpu_ring_reader_open(&race.rd, pcpu_ring_mem(race.r),
				    pcpu_ring_mem_size(race.r)) == 0, "reader");
	for (long i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, racer, (void *)i);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	printf("%s: %ld double commits raced by two threads: expected 0 "
	       "with both succeeding, observed %ld (%ld with none)\n", mode,
	       races, race.both, race.none);
	CHECK(race.both == 0 && race.none == 0, "%s: double commit race",
	      mode);
	pcpu_ring_reader_close(&race.rd);
	pcpu_ring_destroy(race.r);
}

/*
 * A reservation pending while the writers go round: its writer sleeps,
 * the consumer moved past it (as the bench's consumer does, or one that
 * skipped it after PCPU_RING_STUCK_NS), and the writers write laps of
 * 16-byte records.  Its page must be stepped over every lap.
 */
static void kept(unsigned int flags, const char *mode)
{
	struct pcpu_ring *r = t_ring_create(1 << 14, 4096, PCPU_RING_NO_CLOCK | flags);
	struct pcpu_ring_shared *sh = pcpu_ring_mem(r);
	struct pcpu_ring_ctl *ctl = (struct pcpu_ring_ctl *)
				    ((char *)sh + sh->ctl_off);
	unsigned int buf = t_pin_buf(0);
	uint64_t v = 0, *a, word;
	char big[24] = { 0 };
	long ok = 0, dropped = 0, want;

	/* A record at [0, 40), then a at [40, 64), in page 0. */
	CHECK(pcpu_ring_write(r, big, sizeof(big)) == 0, "write");
	a = pcpu_ring_reserve(r, 8);
	CHECK(a != NULL, "reserve");
	if (!a)
		return;
	*a = 42;
	word = a[-2];
	/* Discard mode: the consumer is past page 0, so the writers have
	 * the rest of the buffer and page 0's next lap (stepped over). */
	if (!(flags & PCPU_RING_OVERWRITE))
		__atomic_store_n(&ctl[buf].tail, 4096, __ATOMIC_RELEASE);
	for (int i = 0; i < 4000; i++)
		pcpu_ring_write(r, &v, 0) == 0 ? ok++ : dropped++;
	/* Discard: the rest of page 0 and pages 1-3 hold 16-byte records;
	 * then no room.  Overwrite: all of them go in. */
	want = flags & PCPU_RING_OVERWRITE ? 4000 : (4096 - 64) / 16 + 3 * 256;
	printf("%s: 4000 writes around a pending reservation: %ld accepted "
	       "(expected %ld), %ld dropped; its header %s, payload %llu "
	       "(expected 42)\n", mode, ok, want, dropped,
	       a[-2] == word ? "unchanged" : "CHANGED",
	       (unsigned long long)*a);
	CHECK(ok == want, "%s: %ld writes accepted, expected %ld", mode, ok,
	      want);
	CHECK(a[-2] == word && *a == 42, "%s: the pending reservation was "
	      "written over", mode);
	CHECK(pcpu_ring_commit(r, a) == 0, "%s: late commit: %s", mode,
	      strerror(errno));
	CHECK(a[-2] == (word | PCPU_RING_COMMITTED), "%s: the commit did not "
	      "set the flag", mode);
	pcpu_ring_destroy(r);
}

int main(void)
{
	struct pcpu_ring *r, *other;

	t_init(NULL);
	t_pin_buf(0);
	r = t_ring_create(1 << 14, 1024, 0);
	other = t_ring_create(1 << 14, 1024, 0);
	bogus(r, other, "discard");
	pcpu_ring_destroy(r);
	r = t_ring_create(4096, 256, PCPU_RING_OVERWRITE);
	bogus(r, other, "overwrite");
	overwrite_after(r);
	pcpu_ring_destroy(r);
	pcpu_ring_destroy(other);
	races = t_scale(races);
	if (t_ncpus() > 1) {
		double_commit_race(0, "discard");
		double_commit_race(PCPU_RING_OVERWRITE, "overwrite");
	} else {
		printf("one CPU: no commit race\n");
	}
	kept(0, "discard");
	kept(PCPU_RING_OVERWRITE, "overwrite");
	return t_done();
}
