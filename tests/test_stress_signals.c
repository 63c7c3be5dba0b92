// SPDX-License-Identifier: MIT
/*
 * A SIGALRM storm whose handler increments the same per-CPU words as the
 * threads it interrupts, mid-op: the handler's ops nest inside the
 * thread's (an rseq sequence is aborted by the signal and restarted after
 * the handler; the atomic and gs ops are single instructions).  Threads
 * >= 8x CPUs migrate meanwhile.  Expected total = worker increments +
 * handler increments, exactly.
 */
#include "stress.h"

#include <sys/time.h>

static struct stress s;
static long per_thread;
static long handled;

static void on_alarm(int sig)
{
	long i = __atomic_fetch_add(&handled, 1, __ATOMIC_RELAXED);

	(void)sig;
	stress_one(&s, (unsigned long)i);
}

int main(void)
{
	int n = stress_nthreads();
	struct sigaction sa;
	struct itimerval it = { { 0, 50 }, { 0, 50 } };
	struct stress_pool pool;
	int64_t expected;
	t_init(NULL);
	stress_init(&s);
	per_thread = t_scale(600000);
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_alarm;
	sa.sa_flags = SA_RESTART;
	sigaction(SIGALRM, &sa, NULL);
	/* Process-directed: the kernel picks any thread, so every worker is
	 * interrupted sooner or later. */
	setitimer(ITIMER_REAL, &it, NULL);
	stress_pool_start(&pool, &s, n, per_thread, 5000);
	stress_pool_join(&pool);
	stress_pool_free(&pool);
	it = (struct itimerval){ { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &it, NULL);
	signal(SIGALRM, SIG_IGN);
	expected = (int64_t)n * per_thread +
		   __atomic_load_n(&handled, __ATOMIC_RELAXED);
	printf("%d threads x %ld ops, %ld signal handler increments\n", n,
	       per_thread, handled);
	CHECK(handled > 10, "too few signals (%ld) to prove anything", handled);
	stress_check(&s, expected, "signals");
	return t_done();
}
