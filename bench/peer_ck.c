// SPDX-License-Identifier: MIT
/*
 * Peers from Concurrency Kit (Debian libck-dev; header-only here).
 *
 * counter_add, ck-pr-faa / ck-pr-inc: ck_pr_faa_64 (lock xadd) and
 *     ck_pr_inc_64 (lock incq) on one shared 64-bit counter, what a
 *     program without per-CPU data does.  Verified exact.
 *
 * brlock_read, ck-brlock: ck_brlock_read_lock / read_unlock.  ck_brlock
 *     is a big-reader lock with one registered reader record per thread
 *     (each thread registers once, on its first run): read_lock stores
 *     to the thread's record and fences, then checks the writer word.
 *     Verified like ours: a write lock can be taken after every run.
 *
 * ring_write, ck-ring-mpmc: ck_ring_enqueue_mpmc on one 4096-slot ring
 *     shared by every thread.  What differs from ours: ck_ring moves
 *     pointers, ours copies records.  Each op fills a 16-byte record in
 *     the writer's own array (the same payload as pcpu_ring_write) and
 *     enqueues its address; ck_ring has no overwrite mode, so a writer
 *     that finds the ring full dequeues half of it (ck_ring_dequeue_mpmc)
 *     and tries again: in steady state every op pays one dequeue too,
 *     which is what a ring without a consumer thread costs.  With more
 *     threads than CPUs its enqueue convoys (see ring_loop): those rows
 *     may stop at the harness's deadline and are then marked.
 *     Verified: every record was enqueued and dequeued exactly once.
 */
#include "bench.h"

#include <signal.h>
#include <stdbool.h>
#include <ck_brlock.h>
#include <ck_pr.h>
#include <ck_ring.h>

#define MAXT		256
#define RING_SLOTS	4096
#define RECS		8192	/* per writer; power of two */

static struct {
	_Alignas(64) uint64_t v;
	char pad[56];
} shared;

static ck_brlock_t br = CK_BRLOCK_INITIALIZER;
static struct {
	_Alignas(64) ck_brlock_reader_t r;
	int registered;
} readers[MAXT];

static ck_ring_t ring;
static ck_ring_buffer_t ring_buf[RING_SLOTS];
static struct {
	_Alignas(64) long enqueued;
	long dequeued;
	uint64_t (*recs)[2];
} writers[MAXT];

static void faa_loop(void *x, int tid, long n)
{
	(void)x;
	(void)tid;
	for (long i = 0; i < n; i++)
		ck_pr_faa_64(&shared.v, 1);
}

static void inc_loop(void *x, int tid, long n)
{
	(void)x;
	(void)tid;
	for (long i = 0; i < n; i++)
		ck_pr_inc_64(&shared.v);
}

static int counter_verify(void *x, long ops)
{
	uint64_t v = ck_pr_load_64(&shared.v);

	(void)x;
	ck_pr_store_64(&shared.v, 0);
	if (v != (uint64_t)ops)
		fprintf(stderr, "expected %ld, observed %llu\n", ops,
			(unsigned long long)v);
	return v != (uint64_t)ops;
}

static void br_init(void *x, int tid)
{
	(void)x;
	if (!readers[tid].registered) {
		ck_brlock_read_register(&br, &readers[tid].r);
		readers[tid].registered = 1;
	}
}

static void br_loop(void *x, int tid, long n)
{
	ck_brlock_reader_t *r = &readers[tid].r;

	(void)x;
	for (long i = 0; i < n; i++) {
		ck_brlock_read_lock(&br, r);
		ck_brlock_read_unlock(r);
	}
}

static void stuck(int sig)
{
	static const char msg[] = "ck-brlock: the write lock waited 10 s "
				  "after the readers left\n";
	ssize_t r;

	(void)sig;
	r = write(2, msg, sizeof(msg) - 1);
	(void)r;
	_exit(1);
}

static int br_verify(void *x, long ops)
{
	(void)x;
	(void)ops;
	signal(SIGALRM, stuck);
	alarm(10);
	ck_brlock_write_lock(&br);
	ck_brlock_write_unlock(&br);
	alarm(0);
	return 0;
}

/* The writer as consumer: take half the ring off (pointers only). */
static long ring_drain(void)
{
	void *p;
	long k = 0;

	while (k < RING_SLOTS / 2 && ck_ring_dequeue_mpmc(&ring, ring_buf, &p))
		k++;
	return k;
}

/*
 * ck_ring's MPMC enqueue waits for every earlier reservation to be
 * published: a producer preempted between the two stalls all others, for
 * a time slice when threads outnumber CPUs.  So the loop may stop at the
 * harness's deadline (one load per op) and counts what it did.
 */
static void ring_loop(void *x, int tid, long n)
{
	uint64_t (*recs)[2] = writers[tid].recs;
	long ok = 0, out = 0;

	(void)x;
	for (long i = 0; i < n; i++) {
		uint64_t *rec = recs[i & (RECS - 1)];

		if (bench_expired())
			break;
		rec[0] = (uint64_t)tid;
		rec[1] = (uint64_t)i;
		while (!ck_ring_enqueue_mpmc(&ring, ring_buf, rec))
			out += ring_drain();
		ok++;
	}
	writers[tid].enqueued += ok;
	writers[tid].dequeued += out;
}

static long ring_done(void *x)
{
	long sum = 0;

	(void)x;
	for (int i = 0; i < MAXT; i++)
		sum += writers[i].enqueued;
	return sum;
}

/* Every pointer enqueued comes out exactly once. */
static int ring_verify(void *x, long ops)
{
	long in = 0, out = 0;
	void *p;

	(void)x;
	while (ck_ring_dequeue_mpmc(&ring, ring_buf, &p))
		out++;
	for (int i = 0; i < MAXT; i++) {
		in += writers[i].enqueued;
		out += writers[i].dequeued;
		writers[i].enqueued = writers[i].dequeued = 0;
	}
	if (in != ops || out != ops)
		fprintf(stderr, "expected %ld records, %ld enqueued, %ld "
			"dequeued\n", ops, in, out);
	return in != ops || out != ops;
}

int main(int argc, char **argv)
{
	int counts[BENCH_MAX_COUNTS], rc = 0;
	int nc = bench_thread_counts(counts);

	if (bench_mode(argc, argv) != BENCH_PEER)
		return 0;
	ck_ring_init(&ring, RING_SLOTS);
	for (int i = 0; i < MAXT; i++) {
		writers[i].recs = aligned_alloc(64, RECS * 16);
		if (!writers[i].recs)
			return 1;
	}
	for (int k = 0; k < nc; k++) {
		struct bench b = {
			.bench = "counter_add",
			.kind = "peer",
			.threads = counts[k],
			.verify = counter_verify,
		};

		if (counts[k] > MAXT)
			continue;
		b.impl = "ck-pr-faa";
		b.loop = faa_loop;
		rc |= bench_run(&b);
		b.impl = "ck-pr-inc";
		b.loop = inc_loop;
		rc |= bench_run(&b);

		b.bench = "brlock_read";
		b.impl = "ck-brlock";
		b.loop = br_loop;
		b.thread_init = br_init;
		b.verify = br_verify;
		rc |= bench_run(&b);

		b.bench = "ring_write";
		b.impl = "ck-ring-mpmc";
		b.loop = ring_loop;
		b.thread_init = NULL;
		b.verify = ring_verify;
		b.ops_done = ring_done;
		b.note = "one shared MPMC ring; moves 8-byte pointers to "
			 "16-byte records the writer filled (ours copies the "
			 "record); no overwrite mode: a writer finding it full "
			 "dequeues half, so each op also pays one dequeue";
		rc |= bench_run(&b);
	}
	return rc ? 1 : 0;
}
