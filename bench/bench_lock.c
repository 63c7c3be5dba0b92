// SPDX-License-Identifier: MIT
/*
 * brlock_read: one read-side lock + unlock per op, an empty critical
 * section, every thread reading all the time (no writer).
 *
 * pcpu-<backend>: pcpu_brlock_read_lock / read_unlock (one this_cpu
 * increment, one load of the writer word, one this_cpu decrement, one
 * more load).  Peer pthread-rwlock: pthread_rwlock_rdlock / unlock on one
 * shared lock (two atomic RMWs on one shared line).  ck_brlock and
 * liburcu are in peer_ck.c and peer_urcu.c.
 *
 * Verified after every run through the public API only: a write lock can
 * be taken, which needs every reader to have left.  A reader count left
 * unbalanced would make it wait forever, so an alarm turns that into a
 * failure.
 */
#include "bench.h"

#include <signal.h>

static struct pcpu_brlock bl;
static pthread_rwlock_t rw = PTHREAD_RWLOCK_INITIALIZER;

static void pcpu_loop(void *x, int tid, long n)
{
	(void)x;
	(void)tid;
	for (long i = 0; i < n; i++) {
		pcpu_brlock_read_lock(&bl);
		pcpu_brlock_read_unlock(&bl);
	}
}

static void rw_loop(void *x, int tid, long n)
{
	(void)x;
	(void)tid;
	for (long i = 0; i < n; i++) {
		pthread_rwlock_rdlock(&rw);
		pthread_rwlock_unlock(&rw);
	}
}

static void stuck(int sig)
{
	static const char msg[] = "brlock_read: the write lock waited 10 s "
				  "after the readers left: reader count "
				  "unbalanced\n";

	ssize_t r;

	(void)sig;
	r = write(2, msg, sizeof(msg) - 1);
	(void)r;
	_exit(1);
}

static int pcpu_verify(void *x, long ops)
{
	(void)x;
	(void)ops;
	signal(SIGALRM, stuck);
	alarm(10);
	pcpu_brlock_write_lock(&bl);
	pcpu_brlock_write_unlock(&bl);
	alarm(0);
	return 0;
}

int main(int argc, char **argv)
{
	int pcpu = bench_mode(argc, argv) == BENCH_PCPU;
	int counts[BENCH_MAX_COUNTS], rc = 0;
	int nc = bench_thread_counts(counts);

	if (pcpu && pcpu_brlock_init(&bl)) {
		perror("pcpu_brlock_init");
		return 1;
	}
	for (int k = 0; k < nc; k++) {
		struct bench b = {
			.bench = "brlock_read",
			.threads = counts[k],
		};

		b.impl = pcpu ? bench_pcpu_impl() : "pthread-rwlock";
		b.kind = pcpu ? "ours" : "peer";
		b.loop = pcpu ? pcpu_loop : rw_loop;
		b.verify = pcpu ? pcpu_verify : NULL;
		rc |= bench_run(&b);
	}
	return rc ? 1 : 0;
}
