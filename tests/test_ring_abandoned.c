// SPDX-License-Identifier: MIT
/*
 * A reservation that is never committed (its thread exited without
 * committing: a dead reserver) delays nobody, costs only its page, and
 * the reader skips it after PCPU_RING_STUCK_NS:
 *
 *  - overwrite mode, 8 KiB buffers of 1 KiB pages: after the dead
 *    reservation on CPU 0, 1000 writes on CPU 0 (about three laps).  Expected
 *    all 1000 accepted (the target: >= 99 %; before: 874 refused, since
 *    writers could not enter the reservation's page again), the pending
 *    record's header and payload untouched, and the reader gets the
 *    newest records in order without a gap, written == consumed +
 *    overwritten;
 *  - discard mode, 64 KiB buffers, a consumer thread draining: the ring
 *    fills behind the reservation (writes dropped), the consumer skips
 *    it after PCPU_RING_STUCK_NS (1 abandoned), writes on CPU 0 are
 *    accepted again (the time it took is printed; the only time check is
 *    a liveness limit of 10 bounds), then 1000 more writes; every record
 *    read exactly once and intact, and attempts (writes + the
 *    reservation) == consumed + lost (dropped + 1 abandoned);
 *  - in both, the late commit of the dead thread's record, from another
 *    thread: it succeeds (its space was never reused), and it is not
 *    read (the reader went past; overwrite mode counts it written and
 *    overwritten).
 */
#include "harness.h"

#include <stdint.h>

#define MORE	1000

static struct pcpu_ring *ring;
static uint64_t *dead_rec;

static unsigned int pin(unsigned int cpu)
{
	unsigned int i;

	t_pin(cpu);
	i = pcpu_index();
	return i < pcpu_nr_copies() ? i : pcpu_nr_copies() - 1;
}

static struct pcpu_ring *mk(size_t buf, size_t page, unsigned int flags)
{
	struct pcpu_ring_params p = { buf, page, flags };
	struct pcpu_ring *r = pcpu_ring_create(&p);

	CHECK(r != NULL, "create: %s", strerror(errno));
	if (!r)
		exit(t_done());
	return r;
}

/* The reserver: on CPU 0, reserves, writes half its payload, exits. */
static void *reserver(void *arg)
{
	(void)arg;
	pin(0);
	dead_rec = pcpu_ring_reserve(ring, 16);
	if (dead_rec)
		dead_rec[0] = 0xdead;
	return NULL;
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

	ring = mk(1 << 13, 1024, PCPU_RING_OVERWRITE);
	dead_reservation();
	if (!dead_rec)
		return;
	hdr = dead_rec[-2];
	buf = pin(0);
	for (v = 0; v < MORE; v++)
		refused += pcpu_ring_write(ring, &v, sizeof(v)) != 0;
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

/* ---- discard mode: a consumer thread ---------------------------------- */

static struct {
	struct pcpu_ring_reader rd;
	int stop;
	uint64_t next, got, bad;
} cons;

static int take(void *arg, const struct pcpu_ring_entry *e,
		const void *data)
{
	uint64_t v;

	(void)arg;
	memcpy(&v, data, sizeof(v));
	/* One writer: its values come in order, each once. */
	if (e->len != sizeof(v) || v != cons.next)
		cons.bad++;
	cons.next = v + 1;
	cons.got++;
	return 0;
}

static void *consumer(void *arg)
{
	(void)arg;
	if (t_ncpus() > 1)
		t_pin(1);
	for (;;) {
		int stop = __atomic_load_n(&cons.stop, __ATOMIC_ACQUIRE);

		if (pcpu_ring_read_batch(&cons.rd, take, NULL, 1024) > 0)
			continue;
		if (stop)
			break;
		usleep(200);
	}
	return NULL;
}

static void discard(void)
{
	struct pcpu_ring_stats st;
	uint64_t v = 0, lost = 0, abandoned = 0, corrupt = 0, discarded = 0;
	long ok = 0, dropped = 0;
	double t0, full = 0, again = 0;
	pthread_t th;
	int state = 0;

	ring = mk(1 << 16, 4096, 0);
	CHECK(pcpu_ring_reader_open(&cons.rd, pcpu_ring_mem(ring),
				    pcpu_ring_mem_size(ring)) == 0, "open");
	pthread_create(&th, NULL, consumer, NULL);
	t0 = t_now();
	dead_reservation();
	pin(0);
	/* Fill; once refused, try every 100 us until accepted again. */
	while (state < 2 && t_now() - t0 < 10.0 * PCPU_RING_STUCK_NS / 1e9) {
		if (pcpu_ring_write(ring, &v, sizeof(v)) == 0) {
			v++;
			ok++;
			if (state == 1) {
				state = 2;
				again = t_now() - t0;
			}
			continue;
		}
		dropped++;
		if (state == 0) {
			state = 1;
			full = t_now() - t0;
		}
		usleep(100);
	}
	for (int i = 0; i < MORE; i++, v++) {
		if (pcpu_ring_write(ring, &v, sizeof(v)) == 0) {
			ok++;
		} else {
			dropped++;
			v--;	/* the consumer checks the order */
			i--;
			usleep(100);
		}
	}
	__atomic_store_n(&cons.stop, 1, __ATOMIC_RELEASE);
	pthread_join(th, NULL);
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
	CHECK(state == 2, "writes were never accepted again (state %d)",
	      state);
	CHECK(state < 2 || again >= PCPU_RING_STUCK_NS / 1e9,
	      "accepted again after %.3f s, before the reader may skip",
	      again);
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
}

int main(void)
{
	t_init(NULL);
	overwrite();
	discard();
	return t_done();
}
