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

static void *worker(void *p)
{
	unsigned int seed = (unsigned int)(uintptr_t)p;

	for (long i = 0; i < per_thread; i++) {
		if (i % 5000 == 0)
			t_migrate(0, &seed);
		stress_one(&s, (unsigned long)i);
	}
	return NULL;
}

int main(void)
{
	int n = 8 * (int)t_ncpus();
	struct sigaction sa;
	struct itimerval it = { { 0, 50 }, { 0, 50 } };
	pthread_t *th;
	int64_t expected;

	if (n < 16)
		n = 16;
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
	th = calloc((size_t)n, sizeof(*th));
	for (int i = 0; i < n; i++)
		pthread_create(&th[i], NULL, worker, (void *)(uintptr_t)(i + 1));
	for (int i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	it = (struct itimerval){ { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &it, NULL);
	signal(SIGALRM, SIG_IGN);
	expected = (int64_t)n * per_thread +
		   __atomic_load_n(&handled, __ATOMIC_RELAXED);
	printf("%d threads x %ld ops, %ld signal handler increments\n", n,
	       per_thread, handled);
	CHECK(handled > 10, "too few signals (%ld) to prove anything", handled);
	stress_check(&s, expected, "signals");
	free(th);
	return t_done();
}
