// SPDX-License-Identifier: MIT
/*
 * A reservation that is never committed (its thread exited without
 * committing: a dead reserver) delays nobody, costs only its page, and
 * the reader skips it after PCPU_RING_STUCK_NS:
 *
 *  - overwrite mode, 8 KiB buffers of 1 KiB pages: after the dead
 *    reservation on CPU 0, 1000 writes on its buffer (about three laps)
 *    by the same thread before it dies.  Expected
 *    all 1000 accepted (the target: >= 99 %; before: 874 refused, since
 *    writers could not enter the reservation's page again), the pending
 *    record's header and payload untouched, and the reader gets the
 *    newest records in order without a gap, written == consumed +
 *    overwritten;
 *  - discard mode, 64 KiB buffers, the writer draining whenever a write
 *    is refused: the ring fills behind the reservation (writes dropped),
 *    the consumer skips it after PCPU_RING_STUCK_NS (1 abandoned), writes
 *    on CPU 0 are accepted again (the time it took is printed; the only
 *    time check is a liveness limit of 10 bounds), then 1000 more writes;
 *    every record read exactly once and intact, and attempts (writes +
 *    the reservation) == consumed + lost (dropped + 1 abandoned);
 *  - in both, the late commit of the dead thread's record, from another
 *    thread: it succeeds (its space was never reused), and it is not
 *    read (the reader went past; overwrite mode counts it written and
 *    overwritten).
 *
 * The writes that must meet the reservation come from the reserving
 * thread itself, after it and before the thread exits, and in discard
 * mode it is also the consumer: the only thread that runs meanwhile
 * (main waits for it).  Its copy index, and so its buffer, is then the
 * reservation's as long as that index stays.  By CPU it does (the
 * thread is pinned).  By mm_cid it need not: two threads pinned to one
 * CPU need not share an id, and even a lone pinned writer that sleeps
 * got another id after 0.17 s (vm[aarch64], Linux 6.12), its records
 * going to another buffer.  The reservation's buffer is the one its
 * address is in, and each record read says its buffer: by CPU they must
 * all come from the reservation's; by mm_cid, when some do not, the
 * run says so and checks what does not depend on it (skipped once,
 * every record once and in order per buffer, the accounting), not the
 * timing of the buffer's refusals.
 */
#include "ring_util.h"

#include <stdint.h>

#define MORE	1000

static struct pcpu_ring *ring;
static uint64_t *dead_rec;
static uint64_t dead_hdr;	/* its header right after the reserve */
static long dead_refused;	/* overwrite: its own writes refused */
static void (*dead_then)(void);	/* what the reserver writes after it */

/* The buffer (copy index) that holds address p, from the shared layout. */
static unsigned int buf_of(const void *p)
{
	const struct pcpu_ring_shared *sh = pcpu_ring_mem(ring);

	return (unsigned int)(((const char *)p - (const char *)sh -
			       sh->data_off) / sh->buf_size);
}

/* The reserver: on CPU 0, reserves, writes half its payload, runs
 * dead_then (the writes after it, on its buffer), exits. */
static void *reserver(void *arg)
{
	(void)arg;
	t_pin_buf(0);
	dead_rec = pcpu_ring_reserve(ring, 16);
	if (!dead_rec)
		return NULL;
	dead_hdr = dead_rec[-2];
	dead_rec[0] = 0xdead;
	dead_then();
	return NULL;
}

static void overwrite_writes(void)
{
	dead_refused = 0;
	for (uint64_t v = 0; v < MORE; v++)
		dead_refused += pcpu_ring_write(ring, &v, sizeof(v)) != 0;
}

static void dead_reservation(void)
{
	pthread_t th;

	dead_rec = NULL;
	pthread_create(&th, NULL, reserver, NULL);
	pthread_join(th, NULL);
	CHECK(dead_rec != NULL, "reserve: %s", strerror(errno));
}

static void overwrite(void)
{
	struct pcpu_ring_reader rd;
	struct pcpu_ring_stats st;
	struct pcpu_ring_entry e;
	unsigned int buf;
	uint64_t v, hdr, last = 0, got = 0, gaps = 0;
	long refused = 0;

	ring = t_ring_create(1 << 13, 1024, PCPU_RING_OVERWRITE);
	/* The reservation and the writes after it by one thread, which
	 * then dies without committing: one buffer by CPU or by mm_cid. */
	dead_then = overwrite_writes;
	dead_reservation();
	if (!dead_rec)
		return;
	hdr = dead_hdr;
	refused = dead_refused;
	buf = buf_of(dead_rec);
	CHECK(pcpu_ring_reader_open(&rd, pcpu_ring_mem(ring),
				    pcpu_ring_mem_size(ring)) == 0, "open");
	while (pcpu_ring_read(&rd, buf, &e, &v, sizeof(v)) == 1) {
		gaps += got && v != last + 1;
		last = v;
		got++;
	}
	pcpu_ring_reader_stats(&rd, buf, &st);
	printf("overwrite: %d writes after a dead reservation on that CPU: "
	       "expected >= 99%% accepted, %ld accepted (%.1f%%), %ld "
	       "refused; the reservation's header %s, payload %#llx\n", MORE,
	       MORE - refused, 100.0 * (MORE - refused) / MORE, refused,
	       dead_rec[-2] == hdr ? "untouched" : "CHANGED",
	       (unsigned long long)dead_rec[0]);
	printf("overwrite: written %llu expected = consumed %llu + "
	       "overwritten %llu; newest %llu (expected %d), %llu gaps\n",
	       (unsigned long long)st.written, (unsigned long long)got,
	       (unsigned long long)st.overwritten, (unsigned long long)last,
	       MORE - 1, (unsigned long long)gaps);
	CHECK(MORE - refused >= MORE * 99 / 100, "only %ld of %d accepted",
	      MORE - refused, MORE);
	CHECK(dead_rec[-2] == hdr && dead_rec[0] == 0xdead,
	      "the pending reservation was written over");
	CHECK(last == MORE - 1 && !gaps && got > 0, "the newest records, in "
	      "order: last %llu, %llu gaps", (unsigned long long)last,
	      (unsigned long long)gaps);
	CHECK(st.written == (uint64_t)(MORE - refused) &&
	      st.written == got + st.overwritten, "overwrite accounting");
	/* The late commit, from another thread than the dead one. */
	CHECK(pcpu_ring_commit(ring, dead_rec) == 0, "late commit: %s",
	      strerror(errno));
	CHECK(pcpu_ring_read(&rd, buf, &e, &v, sizeof(v)) == 0,
	      "the reader went back for the late commit");
	pcpu_ring_reader_stats(&rd, buf, &st);
	printf("overwrite: late commit succeeded; written %llu = consumed "
	       "%llu + overwritten %llu\n", (unsigned long long)st.written,
	       (unsigned long long)st.consumed,
	       (unsigned long long)st.overwritten);
	CHECK(st.written == got + st.overwritten &&
	      st.written == (uint64_t)(MORE - refused) + 1,
	      "overwrite accounting after the late commit");
	pcpu_ring_reader_close(&rd);
	pcpu_ring_destroy(ring);
}

/* ---- discard mode: the writer drains ----------------------------------- */

static struct {
	struct pcpu_ring_reader rd;
	unsigned int buf;	/* the reservation's */
	uint64_t *next;		/* per buffer: the value expected next */
	uint64_t got, bad, other;
} cons;

static int take(void *arg, const struct pcpu_ring_entry *e,
		const void *data)
{
	uint64_t v;

	(void)arg;
	memcpy(&v, data, sizeof(v));
	/* One writer: its values come in order in each buffer, and
	 * (counted) each once. */
	if (e->len != sizeof(v) || e->cpu >= pcpu_nr_copies() ||
	    v < cons.next[e->cpu]) {
		cons.bad++;
	} else {
		cons.next[e->cpu] = v + 1;
	}
	cons.got++;
	cons.other += e->cpu != cons.buf;
	return 0;
}

/* A write was refused: read what can be read, then wait a little. */
static void drain_a_little(void)
{
	pcpu_ring_read_batch(&cons.rd, take, NULL, 1024);
	usleep(100);
}

/* The discard run's writes, by the reserver after its reservation. */
static struct {
	double t0, full, again;
	long ok, dropped;
	int state, more;
} dw;

static void discard_writes(void)
{
	double limit = 10.0 * PCPU_RING_STUCK_NS / 1e9;
	uint64_t v = 0;

	cons.buf = buf_of(dead_rec);

	/* Fill; once refused, try every 100 us until accepted again. */
	while (dw.state < 2 && t_now() - dw.t0 < limit) {
		if (pcpu_ring_write(ring, &v, sizeof(v)) == 0) {
			v++;
			dw.ok++;
			if (dw.state == 1) {
				dw.state = 2;
				dw.again = t_now() - dw.t0;
			}
			continue;
		}
		dw.dropped++;
		if (dw.state == 0) {
			dw.state = 1;
			dw.full = t_now() - dw.t0;
		}
		drain_a_little();
	}
	/* Then MORE, each retried until accepted (the consumer checks the
	 * order), within the same liveness limit. */
	while (dw.state == 2 && dw.more < MORE &&
	       t_now() - dw.t0 < 2 * limit) {
		if (pcpu_ring_write(ring, &v, sizeof(v)) == 0) {
			dw.ok++;
			dw.more++;
			v++;
		} else {
			dw.dropped++;
			drain_a_little();
		}
	}
	while (pcpu_ring_read_batch(&cons.rd, take, NULL, 1024) > 0)
		;
}

/* Records the writer left behind the reservation are read once the
 * reader has skipped it: already so, unless the writer moved to another
 * buffer before it was skipped.  Liveness limit 10 bounds. */
static void read_past_reservation(void)
{
	double t0 = t_now();
	struct pcpu_ring_stats st;
	uint64_t abandoned;

	for (;;) {
		while (pcpu_ring_read_batch(&cons.rd, take, NULL, 1024) > 0)
			;
		abandoned = 0;
		for (unsigned int c = 0; c < pcpu_ring_reader_nbufs(&cons.rd);
		     c++) {
			pcpu_ring_reader_stats(&cons.rd, c, &st);
			abandoned += st.abandoned;
		}
		if (abandoned ||
		    t_now() - t0 > 10.0 * PCPU_RING_STUCK_NS / 1e9)
			return;
		usleep(10000);
	}
}

static void discard(void)
{
	struct pcpu_ring_stats st;
	uint64_t lost = 0, abandoned = 0, corrupt = 0, discarded = 0;
	long ok, dropped;
	double full, again;
	int state, moved;

	ring = t_ring_create(1 << 16, 4096, 0);
	cons.next = calloc(pcpu_nr_copies(), sizeof(*cons.next));
	CHECK(cons.next != NULL, "calloc");
	if (!cons.next)
		return;
	CHECK(pcpu_ring_reader_open(&cons.rd, pcpu_ring_mem(ring),
				    pcpu_ring_mem_size(ring)) == 0, "open");
	memset(&dw, 0, sizeof(dw));
	dw.t0 = t_now();
	dead_then = discard_writes;
	dead_reservation();
	ok = dw.ok;
	dropped = dw.dropped;
	full = dw.full;
	again = dw.again;
	state = dw.state;
	CHECK(dw.more == MORE, "only %d of the %d writes after the skip "
	      "accepted within %.0f s", dw.more, MORE,
	      20.0 * PCPU_RING_STUCK_NS / 1e9);
	read_past_reservation();
	moved = cons.other != 0;
	for (unsigned int c = 0; c < pcpu_ring_reader_nbufs(&cons.rd); c++) {
		pcpu_ring_reader_stats(&cons.rd, c, &st);
		lost += st.lost;
		abandoned += st.abandoned;
		corrupt += st.corrupt;
		discarded += st.discarded;
	}
	printf("discard: full %.3f s after a dead reservation, writes "
	       "accepted again after %.2f s (the reader skips it after %.2f "
	       "s; liveness limit %.0f s)\n", full, again,
	       PCPU_RING_STUCK_NS / 1e9, 10.0 * PCPU_RING_STUCK_NS / 1e9);
	printf("discard: attempts %ld (%ld writes + 1 reservation) expected = "
	       "consumed %llu + lost %llu (dropped %llu, abandoned %llu, "
	       "corrupt %llu); %llu records out of order or damaged\n",
	       ok + dropped + 1, ok + dropped, (unsigned long long)cons.got,
	       (unsigned long long)lost, (unsigned long long)discarded,
	       (unsigned long long)abandoned, (unsigned long long)corrupt,
	       (unsigned long long)cons.bad);
	if (moved && pcpu_index_source() == PCPU_INDEX_CID) {
		printf("discard: mm_cid indexing: %llu of the writer's records "
		       "went to other buffers than the reservation's (%u), "
		       "its id changed: when its writes were refused and "
		       "accepted again is not this buffer's, not checked\n",
		       (unsigned long long)cons.other, cons.buf);
	} else {
		CHECK(!moved, "%llu records read from other buffers than the "
		      "reservation's (%u), indexed by CPU",
		      (unsigned long long)cons.other, cons.buf);
		CHECK(state == 2, "writes were never accepted again (state "
		      "%d)", state);
		CHECK(state < 2 || again >= PCPU_RING_STUCK_NS / 1e9,
		      "accepted again after %.3f s, before the reader may "
		      "skip", again);
	}
	CHECK(cons.got == (uint64_t)ok && !cons.bad, "read %llu of %ld, %llu "
	      "bad", (unsigned long long)cons.got, ok,
	      (unsigned long long)cons.bad);
	CHECK(abandoned == 1 && corrupt == 0 && discarded == (uint64_t)dropped,
	      "abandoned %llu (want 1), corrupt %llu, discarded %llu (want "
	      "%ld)", (unsigned long long)abandoned,
	      (unsigned long long)corrupt, (unsigned long long)discarded,
	      dropped);
	CHECK((uint64_t)(ok + dropped + 1) == cons.got + lost,
	      "written != consumed + lost");
	if (dead_rec) {
		CHECK(pcpu_ring_commit(ring, dead_rec) == 0, "late commit: %s",
		      strerror(errno));
		CHECK(pcpu_ring_read_batch(&cons.rd, take, NULL, 10) == 0,
		      "the reader went back for the late commit");
		printf("discard: late commit succeeded, not read\n");
	}
	pcpu_ring_reader_close(&cons.rd);
	pcpu_ring_destroy(ring);
	free(cons.next);
}

int main(void)
{
	t_init(NULL);
	overwrite();
	discard();
	return t_done();
}
