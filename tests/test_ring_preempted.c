// SPDX-License-Identifier: MIT
/*
 * A writer stopped anywhere inside pcpu_ring_write() holds nothing: the
 * critical section it was in starts over when it runs again, and until
 * then the other writers of its CPU write on and the consumer reads all
 * of their records.  Before (reserve, copy, commit as separate steps), a
 * writer stopped between its reserve and its commit stopped the consumer
 * at its record, and after PCPU_RING_STUCK_NS the record was skipped and
 * lost.
 *
 * Writer A (pinned to CPU 0) writes numbered records in a loop.  200
 * times a signal parks it (its handler waits on a futex), wherever it
 * is: often inside the sequence (counted: the aborts it causes).  While
 * A is parked, writer B (also CPU 0) writes 500 records and the consumer
 * (this thread) must read every record written so far, B's included,
 * without skipping any.  Expected: all read each time, 0 abandoned, 0
 * corrupt; at the end every record of A and B read exactly once, in each
 * writer's order, intact.
 *
 * And the contrast, for what zero-copy costs: A stops between
 * pcpu_ring_reserve() and pcpu_ring_commit() on purpose.  B's 500 writes
 * still all go in (after A's record); the consumer waits at A's record
 * (up to PCPU_RING_STUCK_NS) and reads nothing of B's until A commits,
 * then A's and all of B's.  Under mm_cid indexing two threads pinned
 * to one CPU need not share a buffer: the records behind A's pending
 * one are those of B that went to A's buffer (entry cpu), and the run
 * says how many did.
 *
 * No wait is open-ended: each one gives up after WAIT_S with a message
 * saying what it waited for, and the consumer reads while it waits for
 * a writer (a writer may be waiting for the space).
 */
#include "harness.h"

#include <linux/futex.h>
#include <stdint.h>
#include <sys/syscall.h>

#ifndef PARKS
#define PARKS	200
#endif
#define BURST	500
/* Liveness bound of every wait (never reached in a passing run). */
#define WAIT_S	(20.0 * PCPU_RING_STUCK_NS / 1e9)

/* A's records carry 1 KiB of filler: the copy is most of its loop, so
 * that most signals find it inside the sequence. */
#define FILL	1024

struct rec {
	uint32_t writer;
	uint32_t check;
	uint64_t seq;
	unsigned char fill[FILL];
};

static struct pcpu_ring *ring;
static struct pcpu_ring_reader rd;
static pthread_t ta, tb;
/* parks: park handlers entered; released: parks let go (A's handler
 * for park n waits until released >= n, so a release is never undone
 * before A sees it). */
static int parks, released, b_go, b_done, a_stop, a_done, b_exit, hold;
static uint64_t a_ok, b_ok, seen[2], bad, got_total;
/* The contrast: A's pending record's buffer; B's records from that
 * buffer read while it is pending, and B's contrast burst per buffer. */
static void *held_rec;
static unsigned int held_buf;
static int holding;
static uint64_t b_hold_from = UINT64_MAX / 2;	/* none before the contrast */
static uint64_t read_behind, burst_same, burst_other;
static double t_start;

static void futex_wait(int *w, int val)
{
	syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, val, NULL, NULL, 0);
}

static void futex_wake(int *w)
{
	syscall(SYS_futex, w, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

/* The buffer (copy index) that holds address p, from the shared layout. */
static unsigned int buf_of(const void *p)
{
	const struct pcpu_ring_shared *sh = pcpu_ring_mem(ring);

	return (unsigned int)(((const char *)p - (const char *)sh -
			       sh->data_off) / sh->buf_size);
}

static uint32_t check_of(uint32_t writer, uint64_t seq)
{
	return (uint32_t)((seq * 2654435761u) ^ (writer * 40503u) ^ 0x5a5a);
}

static int put(uint32_t writer, uint64_t seq)
{
	struct rec r;

	r.writer = writer;
	r.check = check_of(writer, seq);
	r.seq = seq;
	/* A: the filler repeats the check, so a torn copy shows. */
	if (writer == 0)
		memset(r.fill, (int)(r.check & 0xff), FILL);
	return pcpu_ring_write(ring, &r, writer == 0 ? sizeof(r) :
				      offsetof(struct rec, fill));
}

/* Parks the thread it interrupts until main releases this park (the
 * n-th); async-signal-safe. */
static void on_park(int sig)
{
	int saved = errno, n, r;

	(void)sig;
	n = __atomic_add_fetch(&parks, 1, __ATOMIC_ACQ_REL);
	futex_wake(&parks);
	while ((r = __atomic_load_n(&released, __ATOMIC_ACQUIRE)) < n)
		futex_wait(&released, r);
	errno = saved;
}

static void *writer_a(void *arg)
{
	uint64_t seq = 0;

	(void)arg;
	t_pin(0);
	while (!__atomic_load_n(&a_stop, __ATOMIC_ACQUIRE)) {
		if (put(0, seq) == 0)
			seq++;
		if (__atomic_load_n(&hold, __ATOMIC_ACQUIRE) == 1) {
			/* The contrast: stop between reserve and commit.  A
			 * full ring refuses: main reads meanwhile, we try
			 * again. */
			struct rec *p = pcpu_ring_reserve(ring, sizeof(*p));

			if (p) {
				p->writer = 0;
				p->seq = seq;
				held_rec = p;
				__atomic_store_n(&hold, 2, __ATOMIC_RELEASE);
				futex_wake(&hold);
				while (__atomic_load_n(&hold, __ATOMIC_ACQUIRE) ==
				       2)
					futex_wait(&hold, 2);
				p->check = check_of(0, seq);
				memset(p->fill, (int)(p->check & 0xff), FILL);
				if (pcpu_ring_commit(ring, p) == 0)
					seq++;
			}
		}
	}
	__atomic_store_n(&a_ok, seq, __ATOMIC_RELEASE);
	__atomic_store_n(&a_done, 1, __ATOMIC_RELEASE);
	futex_wake(&a_done);
	return NULL;
}

static void *writer_b(void *arg)
{
	uint64_t seq = 0;
	int want = 1;

	(void)arg;
	t_pin(0);
	for (;;) {
		int go;

		while ((go = __atomic_load_n(&b_go, __ATOMIC_ACQUIRE)) >= 0 &&
		       go < want)
			futex_wait(&b_go, go);
		if (go < 0) {
			__atomic_store_n(&b_exit, 1, __ATOMIC_RELEASE);
			futex_wake(&b_exit);
			break;
		}
		for (uint64_t i = 0; i < BURST; i++)
			while (put(1, seq + i) != 0)
				sched_yield();	/* full: the consumer reads */
		seq += BURST;
		__atomic_store_n(&b_ok, seq, __ATOMIC_RELEASE);
		__atomic_store_n(&b_done, want, __ATOMIC_RELEASE);
		futex_wake(&b_done);
		want++;
	}
	return NULL;
}

static int take(void *arg, const struct pcpu_ring_entry *e,
		const void *data)
{
	struct rec r;

	(void)arg;
	memcpy(&r, data, e->len < sizeof(r) ? e->len : sizeof(r));
	if (e->len != (r.writer == 0 ? sizeof(r) :
				      offsetof(struct rec, fill)) ||
	    r.writer > 1 || r.check != check_of(r.writer, r.seq) ||
	    r.seq != seen[r.writer] ||
	    (r.writer == 0 && (r.fill[0] != (r.check & 0xff) ||
			       memcmp(r.fill, r.fill + 1, FILL - 1))))
		bad++;
	else
		seen[r.writer]++;
	if (r.writer == 1 && r.seq >= b_hold_from &&
	    r.seq < b_hold_from + BURST) {
		if (e->cpu == held_buf)
			burst_same++;
		else
			burst_other++;
		read_behind += holding && e->cpu == held_buf;
	}
	got_total++;
	return 0;
}

/* A wait that did not end: say what for, and end the run (the threads
 * may be stuck: no join, no exit handlers). */
static void give_up(const char *what, int v, int want)
{
	CHECK(0, "waited %.0f s for %s (at %d, waiting for %d)", WAIT_S, what,
	      v, want);
	printf("gave up waiting for %s\n", what);
	fflush(NULL);
	_exit(t_done());
}

/*
 * Until *w >= want, at most WAIT_S.  read: the consumer reads meanwhile
 * (the thread we wait for may be a writer waiting for space); else it
 * sleeps on the futex word, a millisecond at a time.
 */
static void await(int *w, int want, int read, const char *what)
{
	/* Reading: nobody wakes us for new records, so a short nap. */
	struct timespec nap = { 0, read ? 50000 : 1000000 };
	double t0 = t_now();
	int v;

	while ((v = __atomic_load_n(w, __ATOMIC_ACQUIRE)) < want) {
		if (t_now() - t0 > WAIT_S)
			give_up(what, v, want);
		if (!read || pcpu_ring_read_batch(&rd, take, NULL, 4096) <= 0)
			syscall(SYS_futex, w, FUTEX_WAIT_PRIVATE, v, &nap,
				NULL, 0);
	}
}

/* Reads until B's first `want` records are in, at most limit s. */
static int drain_until(uint64_t want, double limit)
{
	double t0 = t_now();

	while (seen[1] < want && t_now() - t0 < limit)
		if (pcpu_ring_read_batch(&rd, take, NULL, 4096) <= 0)
			usleep(50);
	return seen[1] >= want;
}

/* B writes a burst; we read meanwhile (the ring may be full of A's). */
static void kick_b(int round)
{
	__atomic_store_n(&b_go, round, __ATOMIC_RELEASE);
	futex_wake(&b_go);
	await(&b_done, round, 1, "writer B's burst of records");
}

int main(void)
{
	struct pcpu_ring_params p = { 1 << 20, 4096, 0 };
	struct pcpu_rseq_stats r0, r1;
	struct pcpu_ring_stats st;
	uint64_t abandoned = 0, corrupt = 0, refused = 0;
	long missed = 0, read_held;
	struct sigaction sa;
	int round = 0;

	t_init(NULL);
	t_start = t_now();
	if (t_ncpus() > 1)
		t_pin(1);
	ring = pcpu_ring_create(&p);
	CHECK(ring != NULL, "create: %s", strerror(errno));
	if (!ring)
		return t_done();
	CHECK(pcpu_ring_reader_open(&rd, pcpu_ring_mem(ring),
				    pcpu_ring_mem_size(ring)) == 0, "open");
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_park;
	sigaction(SIGUSR1, &sa, NULL);
	pthread_create(&ta, NULL, writer_a, NULL);
	pthread_create(&tb, NULL, writer_b, NULL);
	usleep(10000);
	pcpu_rseq_stats(&r0);
	for (int k = 0; k < PARKS; k++) {
		pthread_kill(ta, SIGUSR1);
		/* Park k + 1: the handler entered (the previous one may
		 * still have been on its way out when we signalled). */
		await(&parks, k + 1, 0, "writer A to enter its park handler");
		kick_b(++round);
		/* Everything B wrote while A is parked, now. */
		missed += !drain_until(b_ok, 10.0 * PCPU_RING_STUCK_NS / 1e9);
		__atomic_store_n(&released, k + 1, __ATOMIC_RELEASE);
		futex_wake(&released);
		/* A writes on, and we read, so that A's writes fit and
		 * the next signal most likely finds it in the sequence. */
		{
			double until = t_now() + (200 + k % 7 * 30) * 1e-6;

			while (t_now() < until)
				pcpu_ring_read_batch(&rd, take, NULL, 4096);
		}
	}
	pcpu_rseq_stats(&r1);
	for (unsigned int c = 0; c < pcpu_ring_reader_nbufs(&rd); c++) {
		pcpu_ring_reader_stats(&rd, c, &st);
		abandoned += st.abandoned;
		corrupt += st.corrupt;
	}
	printf("parked inside pcpu_ring_write() %d times (%lu sequences "
	       "restarted): expected every record of B read while A was "
	       "parked, missed %ld times; abandoned %llu, corrupt %llu "
	       "(expected 0, 0)\n", PARKS, r1.aborts - r0.aborts, missed,
	       (unsigned long long)abandoned, (unsigned long long)corrupt);
	CHECK(!missed && !abandoned && !corrupt, "a parked writer held up "
	      "the consumer");

	/* The contrast: A holds a reservation.  The ring may be full of
	 * A's records: A's reserve succeeds once we have read some. */
	__atomic_store_n(&hold, 1, __ATOMIC_RELEASE);
	await(&hold, 2, 1, "writer A's reservation");
	held_buf = buf_of(held_rec);
	b_hold_from = __atomic_load_n(&b_ok, __ATOMIC_ACQUIRE);
	holding = 1;
	kick_b(++round);
	for (int i = 0; i < 20; i++) {
		pcpu_ring_read_batch(&rd, take, NULL, 4096);
		usleep(1000);
	}
	holding = 0;
	read_held = (long)read_behind;
	__atomic_store_n(&hold, 0, __ATOMIC_RELEASE);
	futex_wake(&hold);
	drain_until(b_ok, 10.0 * PCPU_RING_STUCK_NS / 1e9);
	printf("holding a reservation: B wrote %d of %d, %llu of them behind "
	       "A's record in its buffer (%llu in others); the consumer read "
	       "%ld of those until A committed (expected 0: it waits at A's "
	       "record), then all %llu\n", BURST, BURST,
	       (unsigned long long)burst_same,
	       (unsigned long long)burst_other, read_held,
	       (unsigned long long)b_ok);
	CHECK(read_held == 0, "the consumer went past a pending record");
	/* By CPU, both pinned to CPU 0 write to one buffer; by mm_cid,
	 * each thread may have an id, and a buffer, of its own. */
	if (pcpu_index_source() == PCPU_INDEX_CID && !burst_same)
		printf("mm_cid indexing: B's burst went to another buffer than "
		       "A's reservation, the contrast is not exercised\n");
	else
		CHECK(burst_same + burst_other == BURST &&
		      (pcpu_index_source() == PCPU_INDEX_CID ||
		       burst_same == BURST),
		      "B's burst: %llu records in A's buffer, %llu elsewhere",
		      (unsigned long long)burst_same,
		      (unsigned long long)burst_other);

	__atomic_store_n(&a_stop, 1, __ATOMIC_RELEASE);
	await(&a_done, 1, 1, "writer A to stop");
	pthread_join(ta, NULL);
	__atomic_store_n(&b_go, -1, __ATOMIC_RELEASE);
	futex_wake(&b_go);
	await(&b_exit, 1, 1, "writer B to stop");
	pthread_join(tb, NULL);
	while (pcpu_ring_read_batch(&rd, take, NULL, 4096) > 0)
		;
	abandoned = corrupt = 0;
	for (unsigned int c = 0; c < pcpu_ring_reader_nbufs(&rd); c++) {
		pcpu_ring_reader_stats(&rd, c, &st);
		abandoned += st.abandoned;
		corrupt += st.corrupt;
		refused += st.discarded;
	}
	/* A writer whose write is refused (the ring full between the
	 * rounds) writes the same record again: none is lost. */
	printf("written %llu (A %llu + B %llu) expected = consumed %llu; %llu "
	       "out of order or damaged, %llu abandoned, %llu corrupt (%llu "
	       "writes refused while full, then written again)\n",
	       (unsigned long long)(a_ok + b_ok), (unsigned long long)a_ok,
	       (unsigned long long)b_ok, (unsigned long long)got_total,
	       (unsigned long long)bad, (unsigned long long)abandoned,
	       (unsigned long long)corrupt, (unsigned long long)refused);
	CHECK(seen[0] == a_ok && seen[1] == b_ok && !bad &&
	      got_total == a_ok + b_ok && !abandoned && !corrupt,
	      "every record exactly once and intact");
	/* Printed, not checked: a shared machine's timing is no verdict. */
	printf("run time %.1f s\n", t_now() - t_start);
	pcpu_ring_reader_close(&rd);
	pcpu_ring_destroy(ring);
	return t_done();
}
