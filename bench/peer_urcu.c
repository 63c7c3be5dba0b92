// SPDX-License-Identifier: MIT
/*
 * Peer urcu-memb: liburcu's read side, memb flavour (Debian
 * liburcu-dev), against brlock_read.  rcu_read_lock/unlock with
 * _LGPL_SOURCE, so the fast path is inlined as in a program that cares:
 * a nesting-count store and a compiler barrier on each side, with the
 * memory barriers moved to the writer (sys_membarrier).  Every reader
 * thread registers before its loop and unregisters after it (the harness
 * starts fresh threads for every run).
 *
 * What differs from ours: RCU readers never wait and are never waited
 * for by a lock; a writer waits for a grace period instead
 * (synchronize_rcu), after every run here, as the brlock's write lock is
 * taken after every run of ours.
 */
#define _LGPL_SOURCE
#include "bench.h"

#include <signal.h>
#include <urcu/urcu-memb.h>

static void reg(void *x, int tid)
{
	(void)x;
	(void)tid;
	urcu_memb_register_thread();
}

static void unreg(void *x, int tid)
{
	(void)x;
	(void)tid;
	urcu_memb_unregister_thread();
}

static void loop(void *x, int tid, long n)
{
	(void)x;
	(void)tid;
	for (long i = 0; i < n; i++) {
		urcu_memb_read_lock();
		urcu_memb_read_unlock();
	}
}

static void stuck(int sig)
{
	static const char msg[] = "urcu-memb: synchronize_rcu waited 10 s "
				  "after the readers left\n";
	ssize_t r;

	(void)sig;
	r = write(2, msg, sizeof(msg) - 1);
	(void)r;
	_exit(1);
}

static int verify(void *x, long ops)
{
	(void)x;
	(void)ops;
	signal(SIGALRM, stuck);
	alarm(10);
	urcu_memb_synchronize_rcu();
	alarm(0);
	return 0;
}

int main(int argc, char **argv)
{
	int counts[BENCH_MAX_COUNTS], rc = 0;
	int nc = bench_thread_counts(counts);

	if (bench_mode(argc, argv) != BENCH_PEER)
		return 0;
	for (int k = 0; k < nc; k++) {
		struct bench b = {
			.bench = "brlock_read",
			.impl = "urcu-memb",
			.kind = "peer",
			.threads = counts[k],
			.loop = loop,
			.thread_init = reg,
			.thread_fini = unreg,
			.verify = verify,
			.note = "RCU read side: readers never wait; a writer "
				"waits for a grace period instead",
		};

		rc |= bench_run(&b);
	}
	return rc ? 1 : 0;
}
